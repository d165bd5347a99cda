package socketapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

func TestKickedMemberStopsReceivingAtOnce(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, bob, eve := s.Register(t, "owner"), s.Register(t, "bob"), s.Register(t, "eve")
	serverID, general := community(t, s, owner, bob, eve)
	b := jsclient.Start(t)
	oc, bc, ec := connect(t, b, s, owner), connect(t, b, s, bob), connect(t, b, s, eve)

	sendMsg(t, oc, general, "before the kick", "k1")
	for _, c := range []*jsclient.Client{bc, ec} {
		if _, err := c.WaitEvents("message:new", 1, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+serverID+"/members/"+eve.ID, owner.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("kick: %d %s", res.Status, res.Body)
	}
	evs, err := ec.WaitEvents("server:update", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(evs[0]), `"action":"kicked"`) {
		t.Fatalf("kicked member's event: %s", evs[0])
	}
	members, err := bc.WaitEvents("member:update", 1, 5*time.Second)
	if err != nil || !strings.Contains(string(members[len(members)-1]), eve.ID) {
		t.Fatalf("members were not told: %v", err)
	}
	// Right after the kick: messages and typing in the server's channels no longer reach her.
	sendMsg(t, oc, general, "after the kick", "k2")
	oc.Emit("typing:start", map[string]any{"channelId": general})
	if _, err := bc.WaitEvents("message:new", 2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(ec.Events("message:new")); n != 1 {
		t.Fatalf("kicked member received %d messages, want only the one before the kick", n)
	}
	if n := len(ec.Events("typing:user")); n != 0 {
		t.Fatal("kicked member sees typing")
	}
	var ack sendAck
	if err := ec.EmitAck("message:send", map[string]any{"channelId": general, "content": "let me back", "nonce": "k3"}, &ack, 5*time.Second); err != nil || ack.OK {
		t.Fatalf("kicked member could still send: %+v", ack)
	}
}

func TestNewChannelsAndJoinsUpdateRoomsLive(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, bob := s.Register(t, "owner"), s.Register(t, "bob")
	serverID, _ := community(t, s, owner)
	b := jsclient.Start(t)
	oc, bc := connect(t, b, s, owner), connect(t, b, s, bob)

	// Bob joins after connecting: his socket joins the server's rooms without a reconnect.
	res := s.Do(t, "POST", "/api/servers/"+serverID+"/invites", owner.AccessToken, nil)
	var inv struct{ Code string }
	res.JSON(t, &inv)
	if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", bob.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	if evs, err := bc.WaitEvents("server:update", 1, 5*time.Second); err != nil || !strings.Contains(string(evs[0]), `"action":"joined"`) {
		t.Fatalf("join event: %v", err)
	}
	// A channel created now is live for both.
	res = s.Do(t, "POST", "/api/servers/"+serverID+"/channels", owner.AccessToken, map[string]string{"name": "random"})
	var ch struct{ ID string }
	res.JSON(t, &ch)
	if _, err := bc.WaitEvents("channel:update", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ack := sendMsg(t, oc, ch.ID, "first in #random", "r1")
	got, err := bc.WaitEvents("message:new", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var m msg
	_ = json.Unmarshal(got[0], &m)
	if m.ID != ack.Message.ID {
		t.Fatalf("bob got %+v", m)
	}
	// Deleting the channel removes it from everyone's rooms.
	if res := s.Do(t, "DELETE", "/api/channels/"+ch.ID, owner.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatal(res.Status)
	}
	if _, err := bc.WaitEvents("channel:update", 2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if a := sendMsg(t, oc, ch.ID, "into the void", "r2"); a.OK {
		t.Fatal("sent to a deleted channel")
	}
	// Deleting the server tells its members.
	if res := s.Do(t, "DELETE", "/api/servers/"+serverID, owner.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatal(res.Status)
	}
	evs, err := bc.WaitEvents("server:update", 2, 5*time.Second)
	if err != nil || !strings.Contains(string(evs[1]), `"action":"deleted"`) {
		t.Fatalf("server deleted event: %v", err)
	}
}

func TestOversizedPayloadsAreRefused(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice := s.Register(t, "alice")
	_, general := community(t, s, alice)
	b := jsclient.Start(t)
	c := b.Connect(s.URL, alice.AccessToken, jsclient.Options{NoReconnect: true})
	if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Over the 4,000-character limit but under the packet limit: a clear error.
	if ack := sendMsg(t, c, general, strings.Repeat("a", 5000), "big1"); ack.OK || ack.Error.Code != "invalid_input" {
		t.Fatalf("5,000 characters: %+v", ack)
	}
	// Over the 64 KiB packet limit: the server drops the connection instead of reading it.
	c.Emit("message:send", map[string]any{"channelId": general, "content": strings.Repeat("a", 100_000), "nonce": "big2"})
	if _, err := c.WaitDisconnected(1, 5*time.Second); err != nil {
		t.Fatalf("a 100 KB packet was accepted: %v; events: %v", err, c.Events("error"))
	}
	if res := s.Do(t, "GET", "/api/channels/"+general+"/messages", alice.AccessToken, nil); strings.Contains(string(res.Body), "aaaa") {
		t.Fatal("oversized message stored")
	}
}
