package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/services/messaging"
)

type searchPage struct {
	Results []struct {
		Message       struct{ ID, ChannelID, SenderID, Content string }
		Highlights    []struct{ Start, End int }
		Before, After []struct{ ID, Content string }
	}
	Total int
	Next  *string
}

func id64(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// send stores a message through the messaging service (what message:send does) and waits for its ack.
func send(t *testing.T, s *testserver.Server, acc testserver.Account, channelID, content string) model.Message {
	t.Helper()
	type result struct {
		m   model.Message
		err error
	}
	done := make(chan result, 1)
	err := s.App.Messaging.Send(context.Background(), messaging.Draft{UserID: id64(t, acc.ID), ChannelID: id64(t, channelID),
		Content: content, Nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}, func(m model.Message, err error) { done <- result{m, err} })
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.m
}

// searchable waits until every change so far is in the index and visible to searches.
func searchable(t *testing.T, s *testserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !s.App.Search.Flush(ctx) {
		t.Fatal("the search index did not take the changes")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, testenv.Get("PARLEY_SEARCH_URLS")+"/"+s.Config.Search.Index+"/_refresh", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// caughtUp waits until the indexer has no catch-up or build pending, then makes everything searchable.
func caughtUp(t *testing.T, s *testserver.Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		searchable(t, s) // the queue is written: a missing index was noticed by then, and its build is pending
		if s.App.Search.CaughtUp() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the search index did not catch up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	searchable(t, s)
}

func find(t *testing.T, s *testserver.Server, acc testserver.Account, scope, q string) searchPage {
	t.Helper()
	res := s.Do(t, "GET", "/api/search?"+scope+"&q="+url.QueryEscape(q), acc.AccessToken, nil)
	var p searchPage
	res.JSON(t, &p)
	return p
}

func contents(p searchPage) []string {
	out := []string{}
	for _, r := range p.Results {
		out = append(out, r.Message.Content)
	}
	return out
}

func wantContents(t *testing.T, what string, p searchPage, want ...string) {
	t.Helper()
	got := contents(p)
	if len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: got %q, want %q (newest first)", what, got, want)
		}
	}
}

func TestSearchFindsOnlyWhatTheSearcherCanRead(t *testing.T) {
	t.Parallel()
	testenv.SearchURL(t)
	s := testserver.Start(t, testserver.Options{})
	owner, member, outsider := s.Register(t, "owner"), s.Register(t, "member"), s.Register(t, "outsider")
	srv := createServer(t, s, owner, "Foxes")
	join(t, s, member, invite(t, s, owner, srv.ID, nil))
	var chans struct{ Channels []channel }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	general := chans.Channels[0].ID
	var random channel
	s.Do(t, "POST", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, map[string]string{"name": "random"}).JSON(t, &random)
	other := createServer(t, s, owner, "Elsewhere") // member is not in it
	s.Do(t, "GET", "/api/servers/"+other.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	otherGeneral := chans.Channels[0].ID
	var dm channel
	s.Do(t, "POST", "/api/dms", owner.AccessToken, map[string]any{"userIds": []string{member.ID}}).JSON(t, &dm)

	fox := send(t, s, owner, general, "The quick brown fox jumps")
	link := send(t, s, member, random.ID, "Quick thinking saves the day: https://example.com/x")
	note := send(t, s, owner, random.ID, "@member look at this quick note, Café") // stored as <@id> ...
	send(t, s, owner, otherGeneral, "quick secret of another server")
	send(t, s, owner, dm.ID, "quick word in private")
	searchable(t, s)

	inServer := "serverId=" + srv.ID
	p := find(t, s, member, inServer, "QUICK")
	wantContents(t, "one word over the server", p, note.Content, link.Content, fox.Content)
	if p.Total != 3 || p.Next != nil {
		t.Fatalf("total %d, next %v", p.Total, p.Next)
	}
	if h := p.Results[2].Highlights; len(h) != 1 || h[0].Start != 4 || h[0].End != 9 {
		t.Fatalf("highlight of quick in %q: %+v", p.Results[2].Message.Content, h)
	}

	// Filters.
	wantContents(t, "phrase", find(t, s, member, inServer, `"brown fox"`), fox.Content)
	wantContents(t, "phrase in the wrong order", find(t, s, member, inServer, `"fox brown"`))
	wantContents(t, "from:", find(t, s, member, inServer, "quick from:@member"), link.Content)
	wantContents(t, "in:", find(t, s, member, inServer, "in:#general"), fox.Content)
	wantContents(t, "has:link", find(t, s, member, inServer, "has:link"), link.Content)
	wantContents(t, "mentions:", find(t, s, member, inServer, "mentions:member"), note.Content)
	wantContents(t, "has:file (no attachments yet)", find(t, s, member, inServer, "has:file"))
	wantContents(t, "accents fold", find(t, s, member, inServer, "cafe"), note.Content)
	today := time.Now().UTC().Format("2006-01-02")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	if got := find(t, s, member, inServer, "quick during:"+today); len(got.Results) != 3 {
		t.Fatalf("during:today: %q", contents(got))
	}
	wantContents(t, "before:today", find(t, s, member, inServer, "quick before:"+today))
	wantContents(t, "after:tomorrow", find(t, s, member, inServer, "quick after:"+tomorrow))
	// Paging: one result per page, newest first.
	res := s.Do(t, "GET", "/api/search?"+inServer+"&limit=1&q=quick", member.AccessToken, nil)
	var page searchPage
	res.JSON(t, &page)
	if len(page.Results) != 1 || page.Next == nil {
		t.Fatalf("first page: %s", res.Body)
	}
	s.Do(t, "GET", "/api/search?"+inServer+"&limit=1&q=quick&before="+*page.Next, member.AccessToken, nil).JSON(t, &page)
	wantContents(t, "second page", page, link.Content)

	// Context: the messages around each result, oldest first.
	p = find(t, s, member, inServer+"&context=1", "quick in:#random")
	wantContents(t, "with context", p, note.Content, link.Content)
	if r := p.Results[0]; len(r.Before) != 1 || r.Before[0].Content != link.Content || len(r.After) != 0 {
		t.Fatalf("context of the newest: %+v", r)
	}
	if r := p.Results[1]; len(r.Before) != 0 || len(r.After) != 1 || r.After[0].Content != note.Content {
		t.Fatalf("context of the oldest: %+v", r)
	}
	if res := s.Do(t, "GET", "/api/search?"+inServer+"&context=9&q=quick", member.AccessToken, nil); res.Status != http.StatusBadRequest {
		t.Fatalf("context=9: %d", res.Status)
	}

	// Bad queries are refused with a clear error.
	for q, field := range map[string]string{"from:nobody": "q", "in:#nope": "q", "has:pdf": "q", "  ": "q", "before:yesterday": "q"} {
		res := s.Do(t, "GET", "/api/search?"+inServer+"&q="+url.QueryEscape(q), member.AccessToken, nil)
		if res.Status != http.StatusBadRequest || res.ErrorCode() != "invalid_input" {
			t.Fatalf("%q: %d %s (want 400 on %s)", q, res.Status, res.Body, field)
		}
	}
	if res := s.Do(t, "GET", "/api/search?dms=true&serverId="+srv.ID+"&q=x", member.AccessToken, nil); res.Status != http.StatusBadRequest {
		t.Fatalf("both scopes: %d", res.Status)
	}

	// Scopes: DMs, another server, everything.
	wantContents(t, "DMs", find(t, s, member, "dms=true", "quick"), "quick word in private")
	wantContents(t, "DMs of a third person", find(t, s, outsider, "dms=true", "quick"))
	wantContents(t, "a server the member is not in", find(t, s, member, "serverId="+other.ID, "quick"))
	wantContents(t, "its owner", find(t, s, owner, "serverId="+other.ID, "quick"), "quick secret of another server")
	if got := find(t, s, member, "", "quick"); got.Total != 4 {
		t.Fatalf("everything the member reads: %q", contents(got))
	}
	// A non-member finds nothing.
	wantContents(t, "outsider in the server", find(t, s, outsider, inServer, "quick"))
	wantContents(t, "outsider everywhere", find(t, s, outsider, "", "quick"))

	// Edits are searchable by their new text only; deleted messages never come back.
	if _, err := s.App.Messaging.Edit(context.Background(), id64(t, owner.ID), fox.ChannelID, fox.ID, "A slow green turtle", false); err != nil {
		t.Fatal(err)
	}
	if err := s.App.Messaging.Delete(context.Background(), id64(t, member.ID), link.ChannelID, link.ID); err != nil {
		t.Fatal(err)
	}
	searchable(t, s)
	wantContents(t, "new text", find(t, s, member, inServer, "turtle"), "A slow green turtle")
	wantContents(t, "old text", find(t, s, member, inServer, "brown"))
	wantContents(t, "deleted", find(t, s, member, inServer, "thinking"))
	wantContents(t, "deleted, by filter", find(t, s, member, inServer, "has:link"))

	// A kicked member loses the server's results at once (the DM stays theirs).
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/members/"+member.ID, owner.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("kick: %d %s", res.Status, res.Body)
	}
	wantContents(t, "kicked, in the server", find(t, s, member, inServer, "quick"))
	wantContents(t, "kicked, everywhere", find(t, s, member, "", "quick"), "quick word in private")
}

// Chat does not need the search engine: with it unreachable, messages are sent and deleted as usual. What the
// index missed (here: a process that never reached it) `server reindex` (App.Reindex) restores from Cassandra,
// and a deleted message stays out.
func TestChatWorksWithoutTheEngineAndReindexCatchesUp(t *testing.T) {
	t.Parallel()
	testenv.SearchURL(t)
	down := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_SEARCH_URLS": "http://127.0.0.1:1"}})
	owner := down.Register(t, "owner")
	srv := createServer(t, down, owner, "Lost")
	var chans struct{ Channels []channel }
	down.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	general := chans.Channels[0].ID
	kept := send(t, down, owner, general, "zebra crossing")
	gone := send(t, down, owner, general, "zebra deleted")
	if err := down.App.Messaging.Delete(context.Background(), id64(t, owner.ID), gone.ChannelID, gone.ID); err != nil {
		t.Fatal(err)
	}
	if res := down.Do(t, "GET", "/api/search?q=zebra", owner.AccessToken, nil); res.Status != http.StatusServiceUnavailable {
		t.Fatalf("search with the engine down: %d %s", res.Status, res.Body)
	}
	start := time.Now()
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown waited %v for the unreachable engine", d)
	}

	// The stopped node left its checkpoint (its queue was never written); the next start re-reads the log from
	// there by itself: the kept message is found, the deleted one is not.
	s := testserver.Start(t, down.Restart())
	inServer := "serverId=" + srv.ID
	caughtUp(t, s)
	wantContents(t, "after the restart's catch-up", find(t, s, owner, inServer, "zebra"), kept.Content)
	// `server reindex` still works (a new index, or by hand).
	n, err := s.App.Reindex(context.Background(), time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("reindex: %d rows, %v", n, err)
	}
	searchable(t, s)
	wantContents(t, "after the reindex", find(t, s, owner, inServer, "zebra"), kept.Content)
}

// An index deleted while the server runs: the server's next write does not re-create it without its mapping;
// the server creates it again with the mapping and rebuilds it from Cassandra, so what was searchable before
// is found again, and so is what was sent after.
func TestADeletedIndexIsRebuiltByTheRunningServer(t *testing.T) {
	t.Parallel()
	base := testenv.SearchURL(t)
	index := testenv.UniqueName("parley-test-deleted")
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_SEARCH_INDEX": index}})
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, base+"/"+index+"-v1", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	owner := s.Register(t, "owner")
	srv := createServer(t, s, owner, "Rebuilt")
	var chans struct{ Channels []channel }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	general := chans.Channels[0].ID
	before := send(t, s, owner, general, "walrus before")
	caughtUp(t, s)
	inServer := "serverId=" + srv.ID
	wantContents(t, "before the deletion", find(t, s, owner, inServer, "walrus"), before.Content)

	req, _ := http.NewRequest(http.MethodDelete, base+"/"+index+"-v1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting the index: %v %v", resp, err)
	}
	resp.Body.Close()
	after := send(t, s, owner, general, "walrus after")
	caughtUp(t, s)
	wantContents(t, "after the deletion", find(t, s, owner, inServer, "walrus"), after.Content, before.Content)
	resp, err = http.Get(base + "/" + index + "/_mapping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]struct {
		Mappings struct {
			Dynamic    string                     `json:"dynamic"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	got, ok := m[index+"-v1"]
	if !ok || got.Mappings.Dynamic != "strict" || !strings.Contains(string(got.Mappings.Properties["content"]), "message_text") {
		t.Fatalf("the re-created index's mapping: %+v", m)
	}
}
