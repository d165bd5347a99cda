package socketapi_test

import (
	"net/http"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

// A block reaches past DMs: nobody reacts in the blocked 1:1 DM (as nobody sends there), and in a shared
// channel the blocked user's messages count neither as unread nor as mentions for the blocker.
func TestBlockStopsReactionsAndUnreadFromBlockedUser(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "k_alice"), s.Register(t, "k_bob"), s.Register(t, "k_carol")
	serverID, general := community(t, s, alice, bob, carol)
	b := jsclient.Start(t)
	ac, bc, cc := connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)

	res := s.Do(t, "POST", "/api/dms", bob.AccessToken, map[string]any{"userIds": []string{alice.ID}})
	if res.Status != http.StatusCreated {
		t.Fatalf("open DM: %d %s", res.Status, res.Body)
	}
	var dm struct{ ID string }
	res.JSON(t, &dm)
	hello := sendMsg(t, bc, dm.ID, "hello alice", "k1")
	if !hello.OK {
		t.Fatalf("send before the block: %+v", hello)
	}
	if ack := react(t, ac, "reaction:add", dm.ID, hello.Message.ID, "👍"); !ack.OK {
		t.Fatalf("react before the block: %+v", ack)
	}

	if res := s.Do(t, "PUT", "/api/me/blocks/"+bob.ID, alice.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("block: %d %s", res.Status, res.Body)
	}
	for who, c := range map[string]*jsclient.Client{"blocked": bc, "blocker": ac} {
		if ack := react(t, c, "reaction:add", dm.ID, hello.Message.ID, "🎉"); ack.OK || ack.Error.Code != "forbidden" {
			t.Fatalf("%s reacts in a blocked DM: %+v", who, ack)
		}
	}
	// Taking one's own reaction back stays possible.
	if ack := react(t, ac, "reaction:remove", dm.ID, hello.Message.ID, "👍"); !ack.OK || ack.Reaction.Count != 0 {
		t.Fatalf("remove my reaction in a blocked DM: %+v", ack)
	}

	// In #general: two messages from bob (one mentions alice), one from carol that mentions her.
	for i, text := range []string{"hi all", "@k_alice look"} {
		if ack := sendMsg(t, bc, general, text, "kb"+string(rune('0'+i))); !ack.OK {
			t.Fatalf("bob's send: %+v", ack)
		}
	}
	if u := unreadAndMentions(t, s, carol, serverID, general); u.UnreadCount != 2 {
		t.Fatalf("carol blocks nobody: %d unread, want bob's 2", u.UnreadCount)
	}
	if ack := sendMsg(t, cc, general, "@k_alice from carol", "kc"); !ack.OK {
		t.Fatalf("carol's send: %+v", ack)
	}
	if u := unreadAndMentions(t, s, alice, serverID, general); u.UnreadCount != 1 || u.MentionCount != 1 {
		t.Fatalf("alice, who blocks bob: %d unread, %d mentions; want 1 and 1 (carol's message only)", u.UnreadCount, u.MentionCount)
	}

	// Unblocked, bob's messages count again.
	if res := s.Do(t, "DELETE", "/api/me/blocks/"+bob.ID, alice.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("unblock: %d %s", res.Status, res.Body)
	}
	if u := unreadAndMentions(t, s, alice, serverID, general); u.UnreadCount != 3 || u.MentionCount != 2 {
		t.Fatalf("alice after unblocking: %d unread, %d mentions; want 3 and 2", u.UnreadCount, u.MentionCount)
	}
}

type countsView struct {
	ID                        string
	UnreadCount, MentionCount int
}

func unreadAndMentions(t *testing.T, s *testserver.Server, acc testserver.Account, serverID, channelID string) countsView {
	t.Helper()
	var body struct{ Channels []countsView }
	s.Do(t, "GET", "/api/servers/"+serverID+"/channels", acc.AccessToken, nil).JSON(t, &body)
	for _, c := range body.Channels {
		if c.ID == channelID {
			return c
		}
	}
	t.Fatalf("channel %s not listed", channelID)
	return countsView{}
}
