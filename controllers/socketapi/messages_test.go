package socketapi_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

type msg struct {
	ID, ChannelID, SenderID, Content, Nonce string
	EditedAt                                *string
}

type sendAck struct {
	OK      bool `json:"ok"`
	Message msg  `json:"message"`
	Error   struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

// community sets up a server owned by the first account, joined by the others, and returns the id of its
// #general channel.
func community(t *testing.T, s *testserver.Server, owner testserver.Account, members ...testserver.Account) (serverID, channelID string) {
	t.Helper()
	res := s.Do(t, "POST", "/api/servers", owner.AccessToken, map[string]string{"name": "Test Server"})
	var srv struct{ ID string }
	res.JSON(t, &srv)
	res = s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, nil)
	var inv struct{ Code string }
	res.JSON(t, &inv)
	for _, m := range members {
		if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", m.AccessToken, nil); res.Status != http.StatusOK {
			t.Fatalf("join: %d %s", res.Status, res.Body)
		}
	}
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil)
	var chans struct{ Channels []struct{ ID string } }
	res.JSON(t, &chans)
	return srv.ID, chans.Channels[0].ID
}

func connect(t *testing.T, b *jsclient.Bridge, s *testserver.Server, acc testserver.Account) *jsclient.Client {
	t.Helper()
	c := b.Connect(s.URL, acc.AccessToken, jsclient.Options{})
	if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func sendMsg(t *testing.T, c *jsclient.Client, channelID, content, nonce string) sendAck {
	t.Helper()
	var ack sendAck
	if err := c.EmitAck("message:send", map[string]any{"channelId": channelID, "content": content, "nonce": nonce}, &ack, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return ack
}

func decodeMsgs(t *testing.T, raws []json.RawMessage) []msg {
	t.Helper()
	out := make([]msg, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func history(t *testing.T, s *testserver.Server, acc testserver.Account, channelID, query string) []msg {
	t.Helper()
	res := s.Do(t, "GET", "/api/channels/"+channelID+"/messages"+query, acc.AccessToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("history: %d %s", res.Status, res.Body)
	}
	var page struct{ Messages []msg }
	res.JSON(t, &page)
	return page.Messages
}

func idCompare(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return cmp.Compare(x, y)
}

func idLess(a, b string) bool { return idCompare(a, b) < 0 }

func TestChannelAndDMMessagesReachMembersOnly(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	aliceTab1, aliceTab2, bobC, carolC := connect(t, b, s, alice), connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)

	ack := sendMsg(t, aliceTab1, general, "  hello <b>bob</b>  ", "n-1")
	if !ack.OK || ack.Message.Content != "hello <b>bob</b>" || ack.Message.SenderID != alice.ID || ack.Message.Nonce != "n-1" {
		t.Fatalf("ack: %+v", ack)
	}
	for name, c := range map[string]*jsclient.Client{"bob": bobC, "alice's other tab": aliceTab2, "alice's own tab": aliceTab1} {
		got, err := c.WaitEvents("message:new", 1, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m := decodeMsgs(t, got)[0]; m.ID != ack.Message.ID {
			t.Fatalf("%s got %+v", name, m)
		}
	}
	if sent, err := aliceTab1.WaitEvents("message:sent", 1, 5*time.Second); err != nil || decodeMsgs(t, sent)[0].ID != ack.Message.ID {
		t.Fatalf("message:sent: %v", err)
	}
	if len(aliceTab2.Events("message:sent")) != 0 {
		t.Fatal("message:sent went to a tab that did not send")
	}

	// Bob answers in a DM created after everyone connected: the room is joined live.
	res := s.Do(t, "POST", "/api/dms", bob.AccessToken, map[string]any{"userIds": []string{alice.ID}})
	var dm struct{ ID string }
	res.JSON(t, &dm)
	if _, err := aliceTab1.WaitEvents("channel:update", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if ack := sendMsg(t, bobC, dm.ID, "psst", "n-2"); !ack.OK {
		t.Fatalf("DM send: %+v", ack)
	}
	if _, err := aliceTab1.WaitEvents("message:new", 2, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// Carol is in neither: she receives nothing and cannot write or read.
	for _, ch := range []string{general, dm.ID} {
		if ack := sendMsg(t, carolC, ch, "let me in", "c-"+ch); ack.OK || ack.Error.Code != "not_found" {
			t.Fatalf("outsider send: %+v", ack)
		}
		if res := s.Do(t, "GET", "/api/channels/"+ch+"/messages", carol.AccessToken, nil); res.Status != http.StatusNotFound {
			t.Fatalf("outsider history: %d", res.Status)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(carolC.Events("message:new")); n != 0 {
		t.Fatalf("outsider received %d messages", n)
	}
	if h := history(t, s, bob, general, ""); len(h) != 1 || h[0].ID != ack.Message.ID {
		t.Fatalf("history: %+v", h)
	}
}

func TestThousandMessagesFromSeveralSendersArriveInIDOrder(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_SEND_RATE": "100000", "PARLEY_SEND_BURST": "100000"}})
	owner := s.Register(t, "owner")
	var senders []testserver.Account
	for i := 0; i < 4; i++ {
		senders = append(senders, s.Register(t, fmt.Sprintf("sender%d", i)))
	}
	listener := s.Register(t, "listener")
	_, general := community(t, s, owner, append(senders, listener)...)
	b := jsclient.Start(t)
	lc := connect(t, b, s, listener)

	const each = 250
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for i, acc := range senders {
		c := connect(t, b, s, acc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				var ack sendAck
				if err := c.EmitAck("message:send", map[string]any{"channelId": general, "content": fmt.Sprintf("%d:%d", i, k), "nonce": fmt.Sprintf("s%d-%d", i, k)}, &ack, 20*time.Second); err != nil || !ack.OK {
					t.Errorf("send %d/%d: %v %+v", i, k, err, ack)
					return
				}
				mu.Lock()
				acked[ack.Message.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	raws, err := lc.WaitEvents("message:new", len(senders)*each, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeMsgs(t, raws)
	seen := map[string]bool{}
	lastPerSender := map[string]int{}
	for i, m := range got {
		if i > 0 && !idLess(got[i-1].ID, m.ID) {
			t.Fatalf("message %d out of id order", i)
		}
		if seen[m.ID] {
			t.Fatalf("duplicate delivery of %s", m.ID)
		}
		seen[m.ID] = true
		var sender, k int
		fmt.Sscanf(m.Content, "%d:%d", &sender, &k)
		if prev, ok := lastPerSender[m.SenderID]; ok && k != prev+1 {
			t.Fatalf("sender %s: message %d after %d", m.SenderID, k, prev)
		}
		lastPerSender[m.SenderID] = k
	}
	if len(seen) != len(acked) {
		t.Fatalf("delivered %d, acked %d", len(seen), len(acked))
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acked message %s never delivered", id)
		}
	}
	// History agrees: every message, newest first, no gaps.
	var all []msg
	before := ""
	for {
		page := history(t, s, listener, general, "?limit=100"+before)
		all = append(all, page...)
		if len(page) < 100 {
			break
		}
		before = "&before=" + page[len(page)-1].ID
	}
	if len(all) != len(acked) {
		t.Fatalf("history has %d messages, want %d", len(all), len(acked))
	}
	if !slices.IsSortedFunc(all, func(a, b msg) int { return idCompare(b.ID, a.ID) }) {
		t.Fatal("history not newest first")
	}
}

func TestRetriedNonceIsStoredOnceEvenAcrossARestart(t *testing.T) {
	t.Parallel()
	pg := testenvPostgres(t)
	s := testserver.Start(t, testserver.Options{PGURL: pg})
	alice := s.Register(t, "alice")
	_, general := community(t, s, alice)
	b := jsclient.Start(t)
	c := connect(t, b, s, alice)
	first := sendMsg(t, c, general, "exactly once", "retry-me")
	second := sendMsg(t, c, general, "exactly once", "retry-me")
	if !first.OK || second.Message.ID != first.Message.ID {
		t.Fatalf("retry: %+v vs %+v", first, second)
	}
	c.Disconnect()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	s2 := testserver.Start(t, s.Restart())
	res := s2.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "alice", "password": "correct horse battery"})
	var login struct{ AccessToken string }
	res.JSON(t, &login)
	alice.AccessToken = login.AccessToken
	c2 := connect(t, b, s2, alice)
	third := sendMsg(t, c2, general, "exactly once", "retry-me")
	if !third.OK || third.Message.ID != first.Message.ID {
		t.Fatalf("retry after restart created %+v, want id %s", third, first.Message.ID)
	}
	if h := history(t, s2, alice, general, ""); len(h) != 1 {
		t.Fatalf("history has %d messages", len(h))
	}
}

func TestGracefulRestartLosesNoAcknowledgedMessage(t *testing.T) {
	t.Parallel()
	pg := testenvPostgres(t)
	// A long flush delay keeps messages queued in memory when the shutdown begins.
	env := map[string]string{"PARLEY_FLUSH_DELAY": "10s", "PARLEY_FLUSH_BATCH": "1000", "PARLEY_SEND_RATE": "10000", "PARLEY_SEND_BURST": "10000"}
	s := testserver.Start(t, testserver.Options{PGURL: pg, Env: env})
	alice := s.Register(t, "alice")
	_, general := community(t, s, alice)
	b := jsclient.Start(t)
	c := connect(t, b, s, alice)

	const n = 100
	acks := make(chan sendAck, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ack sendAck
			_ = c.EmitAck("message:send", map[string]any{"channelId": general, "content": fmt.Sprint("m", i), "nonce": fmt.Sprint("g", i)}, &ack, 10*time.Second)
			acks <- ack
		}()
	}
	// Every send queued (none flushed yet: the delay is 10 s) before the shutdown begins.
	waitFor(t, "all sends queued", func() bool { return s.App.Messaging.Queued() == n })
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(acks)
	okIDs := map[string]bool{}
	for a := range acks {
		if a.OK {
			okIDs[a.Message.ID] = true
		}
	}
	if len(okIDs) != n {
		t.Fatalf("%d of %d sends acknowledged before shutdown completed", len(okIDs), n)
	}

	s2 := testserver.Start(t, s.Restart())
	res := s2.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "alice", "password": "correct horse battery"})
	var login struct{ AccessToken string }
	res.JSON(t, &login)
	alice.AccessToken = login.AccessToken
	h := history(t, s2, alice, general, "?limit=100")
	if len(h) != n {
		t.Fatalf("history after restart has %d of %d", len(h), n)
	}
	for _, m := range h {
		if !okIDs[m.ID] {
			t.Fatalf("history has unacknowledged %s", m.ID)
		}
	}
}

func TestReconnectingClientCatchesUp(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	first := sendMsg(t, ac, general, "before the drop", "r0")
	if _, err := bc.WaitEvents("message:new", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	bc.Disconnect()
	if _, err := bc.WaitDisconnected(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var missed []string
	for i := 1; i <= 5; i++ {
		missed = append(missed, sendMsg(t, ac, general, fmt.Sprint("while away ", i), fmt.Sprint("r", i)).Message.ID)
	}
	bc.Reconnect()
	if _, err := bc.WaitConnected(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var sync struct {
		OK       bool
		Messages map[string][]msg
		HasMore  map[string]bool
	}
	if err := bc.EmitAck("messages:sync", map[string]any{"channels": map[string]string{general: first.Message.ID}}, &sync, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := sync.Messages[general]
	if !sync.OK || len(got) != 5 || sync.HasMore[general] {
		t.Fatalf("sync: %+v", sync)
	}
	for i, m := range got {
		if m.ID != missed[i] {
			t.Fatalf("catch-up message %d is %s, want %s", i, m.ID, missed[i])
		}
	}
}

func TestEditDeleteAndBadInput(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)

	m := sendMsg(t, bc, general, "typo", "e1").Message
	var ack sendAck
	if err := ac.EmitAck("message:edit", map[string]any{"channelId": general, "messageId": m.ID, "content": "hijack"}, &ack, 5*time.Second); err != nil || ack.OK || ack.Error.Code != "forbidden" {
		t.Fatalf("edit by another: %+v %v", ack, err)
	}
	if err := bc.EmitAck("message:edit", map[string]any{"channelId": general, "messageId": m.ID, "content": "fixed"}, &ack, 5*time.Second); err != nil || !ack.OK || ack.Message.EditedAt == nil {
		t.Fatalf("edit: %+v %v", ack, err)
	}
	if got, err := ac.WaitEvents("message:updated", 1, 5*time.Second); err != nil || decodeMsgs(t, got)[0].Content != "fixed" {
		t.Fatalf("message:updated: %v", err)
	}
	// The owner may delete anyone's message in their server.
	if err := ac.EmitAck("message:delete", map[string]any{"channelId": general, "messageId": m.ID}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatalf("delete by owner: %+v %v", ack, err)
	}
	if _, err := bc.WaitEvents("message:deleted", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if h := history(t, s, bob, general, ""); len(h) != 0 {
		t.Fatalf("deleted message still in history: %+v", h)
	}

	bad := []struct {
		payload any
		code    string
	}{
		{"not an object", "invalid_input"},
		{map[string]any{"channelId": 123, "content": "x", "nonce": "n"}, "invalid_input"},
		{map[string]any{"channelId": general, "content": "x"}, "invalid_input"},
		{map[string]any{"channelId": general, "content": "", "nonce": "n"}, "invalid_input"},
		{map[string]any{"channelId": general, "content": string(make([]byte, 4001)), "nonce": "n"}, "invalid_input"},
		{map[string]any{"channelId": "999", "content": "x", "nonce": "n"}, "not_found"},
		{map[string]any{"channelId": "abc", "content": "x", "nonce": "n"}, "invalid_input"},
		// Files: ids must be numbers, and must be the sender's uploads to this channel.
		{map[string]any{"channelId": general, "content": "", "nonce": "n", "attachments": []string{"abc"}}, "invalid_input"},
		{map[string]any{"channelId": general, "content": "x", "nonce": "n", "attachments": []string{"12345"}}, "invalid_input"},
		{map[string]any{"channelId": general, "content": "x", "nonce": "n", "attachments": "12345"}, "invalid_input"},
	}
	for _, c := range bad {
		var ack sendAck
		if err := ac.EmitAck("message:send", c.payload, &ack, 5*time.Second); err != nil || ack.OK || ack.Error.Code != c.code {
			t.Errorf("%v: %+v %v", c.payload, ack, err)
		}
	}
	// The socket survived all of it.
	if ack := sendMsg(t, ac, general, "still here", "e2"); !ack.OK {
		t.Fatalf("socket broken after bad input: %+v", ack)
	}
	// Rate limit: a burst beyond 20 gets rate_limited with a retry hint.
	var wg sync.WaitGroup
	var mu sync.Mutex
	limited := 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ack struct {
				OK    bool
				Error struct {
					Code         string
					RetryAfterMs int
				}
			}
			_ = bc.EmitAck("message:send", map[string]any{"channelId": general, "content": "spam", "nonce": fmt.Sprint("spam", i)}, &ack, 5*time.Second)
			if ack.Error.Code == "rate_limited" && ack.Error.RetryAfterMs > 0 {
				mu.Lock()
				limited++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if limited < 10 {
		t.Fatalf("only %d of 40 simultaneous messages were rate limited (burst is 20)", limited)
	}
}

// Mentions are resolved by the server and stored with the message: @name becomes <@id>, the message lists the
// ids, the mentioned member's channel list counts it until they read the channel, and @everyone counts only from
// the owner.
func TestMentionsEndToEnd(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	serverID, general := community(t, s, alice, bob, carol)
	b := jsclient.Start(t)
	ca, cc := connect(t, b, s, alice), connect(t, b, s, carol)

	a := sendMsg(t, ca, general, "hey @Bob, see #general", "m1")
	if !a.OK || a.Message.Content != "hey <@"+bob.ID+">, see <#"+general+">" {
		t.Fatalf("ack: %+v", a)
	}
	var raw struct {
		Message struct {
			Mentions        []string `json:"mentions"`
			MentionEveryone bool     `json:"mentionEveryone"`
		} `json:"message"`
	}
	if err := ca.EmitAck("message:send", map[string]any{"channelId": general, "content": "@everyone meeting", "nonce": "m2"}, &raw, 10*time.Second); err != nil || !raw.Message.MentionEveryone {
		t.Fatalf("owner's @everyone: %v %+v", err, raw)
	}
	if a := sendMsg(t, cc, general, "@everyone me too", "m3"); !a.OK {
		t.Fatal(a)
	}
	news, err := cc.WaitEvents("message:new", 3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		Mentions []string `json:"mentions"`
	}
	_ = json.Unmarshal(news[0], &first)
	if len(first.Mentions) != 1 || first.Mentions[0] != bob.ID {
		t.Errorf("message:new mentions = %v, want [%s]", first.Mentions, bob.ID)
	}
	counts := func(acc testserver.Account) (int, int) {
		var chans struct {
			Channels []struct{ UnreadCount, MentionCount int }
		}
		s.Do(t, "GET", "/api/servers/"+serverID+"/channels", acc.AccessToken, nil).JSON(t, &chans)
		return chans.Channels[0].UnreadCount, chans.Channels[0].MentionCount
	}
	if u, m := counts(bob); u != 3 || m != 2 { // his name and alice's @everyone; carol's @everyone does not count
		t.Errorf("bob: %d unread, %d mentions; want 3 and 2", u, m)
	}
	if _, m := counts(carol); m != 0 {
		t.Errorf("carol: %d mentions; want 0 (her own message moved her read position past alice's @everyone)", m)
	}
	// History carries the mentions too; reading the channel clears the count.
	var page struct {
		Messages []struct {
			ID       string
			Mentions []string `json:"mentions"`
		}
	}
	s.Do(t, "GET", "/api/channels/"+general+"/messages", bob.AccessToken, nil).JSON(t, &page)
	if len(page.Messages) != 3 || len(page.Messages[2].Mentions) != 1 {
		t.Fatalf("history: %+v", page)
	}
	cb := connect(t, b, s, bob)
	var ok map[string]any
	if err := cb.EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": page.Messages[0].ID}, &ok, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if u, m := counts(bob); u != 0 || m != 0 {
		t.Errorf("after reading: %d unread, %d mentions", u, m)
	}
}

// A reply names the message it answers (same channel, visible); the original can be fetched by id until it is
// deleted, after which the reply still points at it and the fetch says it is gone.
func TestReplies(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	var dm struct{ ID string }
	s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}}).JSON(t, &dm)
	b := jsclient.Start(t)
	ca := connect(t, b, s, alice)
	orig := sendMsg(t, ca, general, "original", "o1")
	type replyAck struct {
		OK      bool `json:"ok"`
		Message struct {
			ID      string  `json:"id"`
			ReplyTo *string `json:"replyTo"`
		} `json:"message"`
		Error struct {
			Code, Field string
		} `json:"error"`
	}
	var r replyAck
	if err := ca.EmitAck("message:send", map[string]any{"channelId": general, "content": "answer", "nonce": "r1", "replyTo": orig.Message.ID}, &r, 10*time.Second); err != nil || !r.OK || r.Message.ReplyTo == nil || *r.Message.ReplyTo != orig.Message.ID {
		t.Fatalf("reply: %v %+v", err, r)
	}
	for _, bad := range []string{"123", "x"} { // unknown id, not an id
		var a replyAck
		if err := ca.EmitAck("message:send", map[string]any{"channelId": general, "content": "answer", "nonce": "bad" + bad, "replyTo": bad}, &a, 10*time.Second); err != nil || a.OK || a.Error.Code != "invalid_input" || a.Error.Field != "replyTo" {
			t.Errorf("reply to %q: %v %+v", bad, err, a)
		}
	}
	var a replyAck // a message of another channel cannot be answered here
	if err := ca.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": "answer", "nonce": "x1", "replyTo": orig.Message.ID}, &a, 10*time.Second); err != nil || a.OK {
		t.Errorf("cross-channel reply accepted: %v %+v", err, a)
	}
	var one struct{ Message struct{ ID, Content string } }
	res := s.Do(t, "GET", "/api/channels/"+general+"/messages/"+orig.Message.ID, bob.AccessToken, nil)
	res.JSON(t, &one)
	if res.Status != http.StatusOK || one.Message.Content != "original" {
		t.Fatalf("GET original: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages/"+orig.Message.ID, bob.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Errorf("original through another channel: %d", res.Status)
	}
	var del map[string]any
	if err := ca.EmitAck("message:delete", map[string]any{"channelId": general, "messageId": orig.Message.ID}, &del, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if res := s.Do(t, "GET", "/api/channels/"+general+"/messages/"+orig.Message.ID, bob.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Errorf("deleted original: %d, want 404", res.Status)
	}
	var page struct {
		Messages []struct {
			ID      string
			ReplyTo *string `json:"replyTo"`
		}
	}
	s.Do(t, "GET", "/api/channels/"+general+"/messages", bob.AccessToken, nil).JSON(t, &page)
	if len(page.Messages) != 1 || page.Messages[0].ReplyTo == nil || *page.Messages[0].ReplyTo != orig.Message.ID {
		t.Errorf("history after the delete: %+v", page)
	}
}

// Pins: owners and admins pin in servers (anyone in a DM); a pin is announced, leaves a system line in the
// channel, and is listed newest first; unpinning removes it; system lines cannot be edited or pinned.
func TestPins(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ca, cb := connect(t, b, s, alice), connect(t, b, s, bob)
	m1 := sendMsg(t, cb, general, "first", "p1")
	m2 := sendMsg(t, cb, general, "second", "p2")
	if res := s.Do(t, "PUT", "/api/channels/"+general+"/pins/"+m1.Message.ID, bob.AccessToken, nil); res.Status != http.StatusForbidden {
		t.Fatalf("a member pinned: %d", res.Status)
	}
	for _, id := range []string{m1.Message.ID, m2.Message.ID, m1.Message.ID} { // pinning twice is a no-op
		if res := s.Do(t, "PUT", "/api/channels/"+general+"/pins/"+id, alice.AccessToken, nil); res.Status != http.StatusNoContent {
			t.Fatalf("pin %s: %d %s", id, res.Status, res.Body)
		}
	}
	if _, err := cb.WaitEvents("pin:update", 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var pins struct{ Messages []struct{ ID string } }
	s.Do(t, "GET", "/api/channels/"+general+"/pins", bob.AccessToken, nil).JSON(t, &pins)
	if len(pins.Messages) != 2 || pins.Messages[0].ID != m2.Message.ID || pins.Messages[1].ID != m1.Message.ID {
		t.Fatalf("pins: %+v", pins)
	}
	news, err := cb.WaitEvents("message:new", 4, 10*time.Second) // two messages, two system lines
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		ID, SenderID, Type string
		ReplyTo            *string `json:"replyTo"`
	}
	_ = json.Unmarshal(news[2], &line)
	if line.Type != "pin" || line.SenderID != alice.ID || line.ReplyTo == nil || *line.ReplyTo != m1.Message.ID {
		t.Fatalf("system line: %+v", line)
	}
	var res map[string]any
	if err := ca.EmitAck("message:edit", map[string]any{"channelId": general, "messageId": line.ID, "content": "hacked"}, &res, 10*time.Second); err != nil || res["ok"] == true {
		t.Errorf("editing a system line: %v %v", err, res)
	}
	if r := s.Do(t, "PUT", "/api/channels/"+general+"/pins/"+line.ID, alice.AccessToken, nil); r.Status != http.StatusBadRequest {
		t.Errorf("pinning a system line: %d", r.Status)
	}
	if r := s.Do(t, "DELETE", "/api/channels/"+general+"/pins/"+m1.Message.ID, alice.AccessToken, nil); r.Status != http.StatusNoContent {
		t.Fatalf("unpin: %d", r.Status)
	}
	s.Do(t, "GET", "/api/channels/"+general+"/pins", bob.AccessToken, nil).JSON(t, &pins)
	if len(pins.Messages) != 1 || pins.Messages[0].ID != m2.Message.ID {
		t.Fatalf("pins after unpin: %+v", pins)
	}
	// In a DM anyone may pin.
	var dm struct{ ID string }
	s.Do(t, "POST", "/api/dms", bob.AccessToken, map[string]any{"userIds": []string{alice.ID}}).JSON(t, &dm)
	d := sendMsg(t, ca, dm.ID, "in a DM", "d1")
	if r := s.Do(t, "PUT", "/api/channels/"+dm.ID+"/pins/"+d.Message.ID, bob.AccessToken, nil); r.Status != http.StatusNoContent {
		t.Errorf("pin in a DM: %d %s", r.Status, r.Body)
	}
}
