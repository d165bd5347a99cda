package socketapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

type reaction struct {
	Emoji   string   `json:"emoji"`
	Count   int      `json:"count"`
	Me      bool     `json:"me"`
	UserIDs []string `json:"userIds"`
}

type reactionAck struct {
	OK       bool     `json:"ok"`
	Reaction reaction `json:"reaction"`
	Error    struct {
		Code         string `json:"code"`
		Field        string `json:"field"`
		RetryAfterMs int64  `json:"retryAfterMs"`
	} `json:"error"`
}

type reactionUpdate struct {
	ChannelID, MessageID, Emoji, UserID, Action string
	Count                                       int
	UserIDs                                     []string
}

func react(t *testing.T, c *jsclient.Client, event, channelID, messageID, emoji string) reactionAck {
	t.Helper()
	var ack reactionAck
	if err := c.EmitAck(event, map[string]any{"channelId": channelID, "messageId": messageID, "emoji": emoji}, &ack, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return ack
}

func updates(t *testing.T, c *jsclient.Client, n int) []reactionUpdate {
	t.Helper()
	raws, err := c.WaitEvents("reaction:update", n, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]reactionUpdate, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// historyReactions returns each message's reactions field from a history page, as raw JSON per message id
// ("absent" when the field is missing).
func historyReactions(t *testing.T, s *testserver.Server, acc testserver.Account, channelID string) map[string][]reaction {
	t.Helper()
	res := s.Do(t, "GET", "/api/channels/"+channelID+"/messages", acc.AccessToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("history: %d %s", res.Status, res.Body)
	}
	var page struct {
		Messages []struct {
			ID        string      `json:"id"`
			Reactions *[]reaction `json:"reactions"`
		}
	}
	res.JSON(t, &page)
	out := map[string][]reaction{}
	for _, m := range page.Messages {
		if m.Reactions == nil {
			t.Fatalf("message %s has no reactions field: %s", m.ID, res.Body)
		}
		out[m.ID] = *m.Reactions
	}
	return out
}

type reactedPage struct {
	Users   []struct{ ID, Username string }
	HasMore bool
}

func reacted(t *testing.T, s *testserver.Server, acc testserver.Account, channelID, messageID, emoji, query string) (int, reactedPage) {
	t.Helper()
	res := s.Do(t, "GET", "/api/channels/"+channelID+"/messages/"+messageID+"/reactions?emoji="+url.QueryEscape(emoji)+query, acc.AccessToken, nil)
	var p reactedPage
	if res.Status == http.StatusOK {
		res.JSON(t, &p)
	}
	return res.Status, p
}

func TestReactionsLiveInHistoryAndListed(t *testing.T) {
	t.Parallel()
	pg := testenvPostgres(t)
	// Only the shutdown writes reactions to MongoDB: the restart below proves Close flushes them.
	env := map[string]string{"PARLEY_STATE_WRITE_INTERVAL": "1h"}
	s := testserver.Start(t, testserver.Options{PGURL: pg, Env: env})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc, cc := connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)
	m := sendMsg(t, ac, general, "react to me", "r-1").Message
	other := sendMsg(t, ac, general, "no reactions here", "r-2").Message

	// Bob reacts: both see it live, with the count.
	if ack := react(t, bc, "reaction:add", general, m.ID, "👍"); !ack.OK || ack.Reaction.Count != 1 || !ack.Reaction.Me || !slices.Equal(ack.Reaction.UserIDs, []string{bob.ID}) {
		t.Fatalf("bob's add: %+v", ack)
	}
	for _, c := range []*jsclient.Client{ac, bc} {
		u := updates(t, c, 1)[0]
		if u.ChannelID != general || u.MessageID != m.ID || u.Emoji != "👍" || u.Count != 1 || u.UserID != bob.ID || u.Action != "add" || !slices.Equal(u.UserIDs, []string{bob.ID}) {
			t.Fatalf("reaction:update: %+v", u)
		}
	}
	// Alice too, and another emoji.
	if ack := react(t, ac, "reaction:add", general, m.ID, "👍"); !ack.OK || ack.Reaction.Count != 2 || !ack.Reaction.Me {
		t.Fatalf("alice's add: %+v", ack)
	}
	if ack := react(t, ac, "reaction:add", general, m.ID, "🎉"); !ack.OK || ack.Reaction.Count != 1 {
		t.Fatalf("alice's 🎉: %+v", ack)
	}
	if u := updates(t, bc, 3)[1]; u.Count != 2 || u.UserID != alice.ID || !slices.Equal(u.UserIDs, []string{bob.ID, alice.ID}) {
		t.Fatalf("second 👍 update: %+v", u)
	}

	// History carries them, per viewer; a message without reactions has an empty list.
	for _, v := range []struct {
		acc               testserver.Account
		thumbsMe, partyMe bool
	}{{alice, true, true}, {bob, true, false}} {
		h := historyReactions(t, s, v.acc, general)
		rs := h[m.ID]
		if len(rs) != 2 || rs[0].Emoji != "👍" || rs[0].Count != 2 || rs[0].Me != v.thumbsMe || !slices.Equal(rs[0].UserIDs, []string{bob.ID, alice.ID}) ||
			rs[1].Emoji != "🎉" || rs[1].Count != 1 || rs[1].Me != v.partyMe {
			t.Fatalf("%s's history: %+v", v.acc.Username, rs)
		}
		if len(h[other.ID]) != 0 {
			t.Fatalf("a message without reactions: %+v", h[other.ID])
		}
	}

	// Who reacted, paged by user id.
	first, second := alice, bob
	if idLess(bob.ID, alice.ID) {
		first, second = bob, alice
	}
	st, p := reacted(t, s, carol, general, m.ID, "👍", "")
	if st != http.StatusNotFound {
		t.Fatalf("outsider listing: %d", st)
	}
	st, p = reacted(t, s, bob, general, m.ID, "👍", "&limit=1")
	if st != http.StatusOK || len(p.Users) != 1 || p.Users[0].ID != first.ID || !p.HasMore {
		t.Fatalf("first page: %d %+v", st, p)
	}
	st, p = reacted(t, s, bob, general, m.ID, "👍", "&limit=1&after="+first.ID)
	if st != http.StatusOK || len(p.Users) != 1 || p.Users[0].ID != second.ID || p.Users[0].Username != second.Username || p.HasMore {
		t.Fatalf("second page: %d %+v", st, p)
	}
	if st, _ := reacted(t, s, bob, general, m.ID, "nope", ""); st != http.StatusBadRequest {
		t.Fatalf("listing a non-emoji: %d", st)
	}
	if st, _ := reacted(t, s, bob, general, m.ID, "👍", "&after=x"); st != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", st)
	}
	if st, p := reacted(t, s, bob, general, other.ID, "👍", ""); st != http.StatusOK || len(p.Users) != 0 || p.Users == nil {
		t.Fatalf("nobody reacted: %d %+v", st, p)
	}

	// Bob takes his back; doing it twice changes nothing and announces nothing.
	if ack := react(t, bc, "reaction:remove", general, m.ID, "👍"); !ack.OK || ack.Reaction.Count != 1 || ack.Reaction.Me {
		t.Fatalf("remove: %+v", ack)
	}
	if u := updates(t, ac, 4)[3]; u.Action != "remove" || u.Count != 1 || u.UserID != bob.ID || !slices.Equal(u.UserIDs, []string{alice.ID}) {
		t.Fatalf("remove update: %+v", u)
	}
	if ack := react(t, bc, "reaction:remove", general, m.ID, "👍"); !ack.OK || ack.Reaction.Count != 1 {
		t.Fatalf("second remove: %+v", ack)
	}
	if ack := react(t, ac, "reaction:add", general, m.ID, "👍"); !ack.OK || ack.Reaction.Count != 1 || !ack.Reaction.Me {
		t.Fatalf("repeated add: %+v", ack)
	}

	// Refusals: an outsider, a non-emoji, a missing message, bad ids.
	if ack := react(t, cc, "reaction:add", general, m.ID, "👍"); ack.OK || ack.Error.Code != "not_found" {
		t.Fatalf("outsider: %+v", ack)
	}
	if ack := react(t, bc, "reaction:add", general, m.ID, ":thumbsup:"); ack.OK || ack.Error.Code != "invalid_input" || ack.Error.Field != "emoji" {
		t.Fatalf("shortcode: %+v", ack)
	}
	if ack := react(t, bc, "reaction:add", general, "12345", "👍"); ack.OK || ack.Error.Code != "not_found" {
		t.Fatalf("missing message: %+v", ack)
	}
	if ack := react(t, bc, "reaction:add", general, "x", "👍"); ack.OK || ack.Error.Code != "invalid_input" || ack.Error.Field != "messageId" {
		t.Fatalf("bad id: %+v", ack)
	}
	// A deleted message takes no reactions.
	var del struct{ OK bool }
	if err := ac.EmitAck("message:delete", map[string]any{"channelId": general, "messageId": other.ID}, &del, 10*time.Second); err != nil || !del.OK {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if ack := react(t, bc, "reaction:add", general, other.ID, "👍"); ack.OK || ack.Error.Code != "not_found" {
		t.Fatalf("deleted message: %+v", ack)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(ac.Events("reaction:update")); n != 4 {
		t.Fatalf("alice got %d reaction updates, want 4 (no-ops and refusals announce nothing)", n)
	}
	if n := len(cc.Events("reaction:update")); n != 0 {
		t.Fatalf("the outsider got %d reaction updates", n)
	}

	// A graceful restart writes what is pending; the next process serves it.
	for _, c := range []*jsclient.Client{ac, bc, cc} {
		c.Disconnect()
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	again := s.Restart()
	again.Env = env
	s2 := testserver.Start(t, again)
	rs := historyReactions(t, s2, alice, general)[m.ID]
	if len(rs) != 2 || rs[0].Emoji != "👍" || rs[0].Count != 1 || !rs[0].Me || rs[1].Emoji != "🎉" {
		t.Fatalf("after the restart: %+v", rs)
	}
}

func TestReactionLimits(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice := s.Register(t, "alice")
	_, general := community(t, s, alice)
	b := jsclient.Start(t)
	c := connect(t, b, s, alice)
	m := sendMsg(t, c, general, "many emoji", "l-1").Message
	emoji := []string{"😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "😙", "🥲", "😚", "🙂", "🤗"}
	for i, e := range emoji {
		if i == 20 {
			time.Sleep(400 * time.Millisecond) // the 20 before used the burst: wait for a token
		}
		ack := react(t, c, "reaction:add", general, m.ID, e)
		if i < 20 && !ack.OK {
			t.Fatalf("emoji %d refused: %+v", i, ack)
		}
		if i == 20 && (ack.OK || ack.Error.Code != "conflict") {
			t.Fatalf("a 21st emoji: %+v", ack)
		}
	}
	// The per-user rate (burst 20, then 5/s) applies: the adds above used the burst.
	var limited reactionAck
	for i := 0; i < 10 && limited.Error.Code == ""; i++ {
		limited = react(t, c, "reaction:remove", general, m.ID, emoji[i])
	}
	if limited.OK || limited.Error.Code != "rate_limited" || limited.Error.RetryAfterMs <= 0 {
		t.Fatalf("never rate limited: %+v", limited)
	}
}
