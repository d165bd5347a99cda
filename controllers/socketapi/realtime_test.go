package socketapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
)

type presenceEvt struct{ UserID, Status string }

// presenceEvents lists the statuses announced for a user, from presence:update and presence:batch, in order.
func presenceEvents(t *testing.T, c *jsclient.Client, userID string) []string {
	t.Helper()
	var out []string
	for _, m := range c.Received() {
		var ups []presenceEvt
		switch m.Event {
		case "presence:update":
			var p presenceEvt
			_ = json.Unmarshal(m.Args[0], &p)
			ups = []presenceEvt{p}
		case "presence:batch":
			var b struct{ Updates []presenceEvt }
			_ = json.Unmarshal(m.Args[0], &b)
			ups = b.Updates
		}
		for _, p := range ups {
			if p.UserID == userID {
				out = append(out, p.Status)
			}
		}
	}
	return out
}

func waitPresence(t *testing.T, c *jsclient.Client, userID, status string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		evs := presenceEvents(t, c, userID)
		if len(evs) > 0 && evs[len(evs)-1] == status {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no presence %q for %s within %v (got %v)", status, userID, timeout, presenceEvents(t, c, userID))
}

func getPresence(t *testing.T, s *testserver.Server, acc testserver.Account, ids ...string) map[string]string {
	t.Helper()
	res := s.Do(t, "GET", "/api/presence?userIds="+strings.Join(ids, ","), acc.AccessToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("presence: %d %s", res.Status, res.Body)
	}
	var body struct{ Presence []presenceEvt }
	res.JSON(t, &body)
	out := map[string]string{}
	for _, p := range body.Presence {
		out[p.UserID] = p.Status
	}
	return out
}

func TestPresenceAcrossTabsGraceAndIdle(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_PRESENCE_GRACE": "1s"}})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	community(t, s, alice, bob)
	b := jsclient.Start(t)
	watcher := connect(t, b, s, bob)
	outsider := connect(t, b, s, carol)

	tab1 := connect(t, b, s, alice)
	waitPresence(t, watcher, alice.ID, "online", 5*time.Second)
	tab2 := connect(t, b, s, alice)
	if got := getPresence(t, s, bob, alice.ID, carol.ID); got[alice.ID] != "online" || got[carol.ID] != "" {
		t.Fatalf("presence seen by bob: %v (carol shares nothing with bob)", got)
	}

	// Idle only when every tab is idle.
	var ack struct{ OK bool }
	_ = tab1.EmitAck("presence:set", map[string]any{"status": "idle"}, &ack, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if evs := presenceEvents(t, watcher, alice.ID); evs[len(evs)-1] != "online" {
		t.Fatalf("one idle tab made alice %v", evs)
	}
	_ = tab2.EmitAck("presence:set", map[string]any{"status": "idle"}, &ack, 5*time.Second)
	waitPresence(t, watcher, alice.ID, "idle", 5*time.Second)
	_ = tab2.EmitAck("presence:set", map[string]any{"status": "online"}, &ack, 5*time.Second)
	waitPresence(t, watcher, alice.ID, "online", 5*time.Second)
	if err := tab2.EmitAck("presence:set", map[string]any{"status": "away"}, &ack, 5*time.Second); err != nil || ack.OK {
		t.Fatalf("bad status accepted: %+v", ack)
	}

	// Closing one tab keeps alice online; a reload (disconnect + reconnect within the grace) never shows offline.
	_ = tab1.EmitAck("presence:set", map[string]any{"status": "online"}, &ack, 5*time.Second)
	before := len(presenceEvents(t, watcher, alice.ID))
	tab1.Disconnect()
	tab2.Disconnect()
	tab2.Reconnect()
	if _, err := tab2.WaitConnected(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if evs := presenceEvents(t, watcher, alice.ID); len(evs) != before {
		t.Fatalf("tab close/reload produced presence events %v", evs[before:])
	}
	tab2.Disconnect()
	waitPresence(t, watcher, alice.ID, "offline", 5*time.Second)
	if got := getPresence(t, s, bob, alice.ID); got[alice.ID] != "offline" {
		t.Fatalf("after the last tab closed: %v", got)
	}
	if n := len(presenceEvents(t, outsider, alice.ID)); n != 0 {
		t.Fatalf("a user sharing nothing with alice got %d presence events", n)
	}
}

func TestPresenceOfManyUsersConnectingAtOnceIsBatched(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner := s.Register(t, "owner")
	var members []testserver.Account
	for i := 0; i < 8; i++ {
		members = append(members, s.Register(t, "member"+ids0(i)))
	}
	community(t, s, owner, members...)
	b := jsclient.Start(t)
	watcher := connect(t, b, s, owner)
	time.Sleep(400 * time.Millisecond) // the watcher's own announcement is out of the way
	for _, m := range members {
		b.Connect(s.URL, m.AccessToken, jsclient.Options{})
	}
	for _, m := range members {
		waitPresence(t, watcher, m.ID, "online", 10*time.Second)
	}
	events := 0
	for _, m := range watcher.Received() {
		if m.Event == "presence:update" || m.Event == "presence:batch" {
			events++
		}
	}
	if events >= len(members)+1 {
		t.Fatalf("%d presence events for %d members connecting at once: not batched", events, len(members))
	}
}

func TestStalePresenceOfADeadNodeIsSwept(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	community(t, s, alice, bob)
	b := jsclient.Start(t)
	watcher := connect(t, b, s, bob)

	// Alice connected to another node (id 999) ten minutes ago; that node heartbeats (its own document), then
	// dies without cleaning up.
	ctx := context.Background()
	client, err := mongorepo.Connect(ctx, testenv.MongoURI())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database(s.Config.MongoDB).Collection("presence")
	nodes := client.Database(s.Config.MongoDB).Collection("presence_nodes")
	aliceID, _ := parseInt(alice.ID)
	long := time.Now().Add(-10 * time.Minute)
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: alice.ID + ":999"}, {Key: "userId", Value: aliceID}, {Key: "nodeId", Value: int64(999)},
		{Key: "status", Value: "online"}, {Key: "lastSeen", Value: long}, {Key: "heartbeatAt", Value: long}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes.InsertOne(ctx, bson.D{{Key: "_id", Value: int64(999)}, {Key: "heartbeatAt", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got := getPresence(t, s, bob, alice.ID); got[alice.ID] != "online" {
		t.Fatalf("alice on the other node: %v", got)
	}
	s.App.Presence.Sweep(ctx) // the node is still fresh: nothing changes
	if got := getPresence(t, s, bob, alice.ID); got[alice.ID] != "online" {
		t.Fatalf("a live node's entry was swept: %v", got)
	}
	_, err = nodes.UpdateOne(ctx, bson.D{{Key: "_id", Value: int64(999)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "heartbeatAt", Value: long}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.App.Presence.Sweep(ctx)
	waitPresence(t, watcher, alice.ID, "offline", 5*time.Second)
	var doc struct{ Status string }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: alice.ID + ":999"}}).Decode(&doc); err != nil || doc.Status != "offline" {
		t.Fatalf("stored entry after sweep: %+v %v", doc, err)
	}
}

func TestTypingReachesOtherMembersOnlyAndIsThrottled(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc, cc := connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)

	for i := 0; i < 10; i++ { // a flood: one forwarded
		ac.Emit("typing:start", map[string]any{"channelId": general})
	}
	evs, err := bc.WaitEvents("typing:user", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ChannelID, UserID string
		Typing            bool
	}
	_ = json.Unmarshal(evs[0], &ev)
	if ev.ChannelID != general || ev.UserID != alice.ID || !ev.Typing {
		t.Fatalf("typing event: %+v", ev)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(bc.Events("typing:user")); n != 1 {
		t.Fatalf("flood forwarded %d times", n)
	}
	if len(ac.Events("typing:user")) != 0 || len(cc.Events("typing:user")) != 0 {
		t.Fatal("typing reached the typist or a non-member")
	}
	// Sending a message ends the indicator.
	sendMsg(t, ac, general, "done typing", "t1")
	evs, err = bc.WaitEvents("typing:user", 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(evs[1], &ev)
	if ev.Typing {
		t.Fatal("message did not stop typing")
	}
	// An indicator nobody renews expires by itself (6 s).
	ac.Emit("typing:start", map[string]any{"channelId": general})
	evs, err = bc.WaitEvents("typing:user", 4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(evs[3], &ev)
	if ev.Typing {
		t.Fatal("indicator did not expire")
	}
	// Typing in a channel one cannot read is refused.
	var ack sendAck
	if err := cc.EmitAck("typing:start", map[string]any{"channelId": general}, &ack, 5*time.Second); err != nil || ack.OK || ack.Error.Code != "not_found" {
		t.Fatalf("outsider typing: %+v", ack)
	}
}

type channelView struct {
	ID          string
	UnreadCount int
	LastReadID  *string
}

func unread(t *testing.T, s *testserver.Server, acc testserver.Account, serverID, channelID string) channelView {
	t.Helper()
	res := s.Do(t, "GET", "/api/servers/"+serverID+"/channels", acc.AccessToken, nil)
	var body struct{ Channels []channelView }
	res.JSON(t, &body)
	for _, c := range body.Channels {
		if c.ID == channelID {
			return c
		}
	}
	t.Fatalf("channel %s not listed", channelID)
	return channelView{}
}

func TestReadReceiptsAndUnreadCounts(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	serverID, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc, cc := connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)

	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, sendMsg(t, bc, general, "from bob", "u"+ids0(i)).Message.ID)
	}
	if u := unread(t, s, alice, serverID, general); u.UnreadCount != 3 {
		t.Fatalf("alice unread before reading: %+v", u)
	}
	if u := unread(t, s, bob, serverID, general); u.UnreadCount != 0 {
		t.Fatalf("own messages count as unread: %+v", u)
	}
	// Before anyone read them, bob's messages are unread in his history (this page also loads the channel's
	// read positions into memory: the page after the receipt below must see the receipt anyway).
	before := s.Do(t, "GET", "/api/channels/"+general+"/messages", bob.AccessToken, nil)
	if n := strings.Count(string(before.Body), `"read":false`); n != 3 {
		t.Fatalf("history before any receipt has %d unread own messages, want 3: %s", n, before.Body)
	}
	var ack sendAck
	if err := ac.EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": ids[1]}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatalf("read: %+v %v", ack, err)
	}
	evs, err := bc.WaitEvents("receipt:update", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ ChannelID, UserID, MessageID string }
	_ = json.Unmarshal(evs[0], &rec)
	if rec.UserID != alice.ID || rec.MessageID != ids[1] {
		t.Fatalf("receipt: %+v", rec)
	}
	if _, err := ac.WaitEvents("unread:update", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Backwards is a no-op: acknowledged, not announced, not stored.
	if err := ac.EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": ids[0]}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatalf("backwards read: %+v", ack)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(bc.Events("receipt:update")); n != 1 {
		t.Fatalf("backwards read announced (%d events)", n)
	}
	if u := unread(t, s, alice, serverID, general); u.UnreadCount != 1 || u.LastReadID == nil || *u.LastReadID != ids[1] {
		t.Fatalf("alice after reading 2 of 3: %+v", u)
	}
	// Bad receipts.
	for _, bad := range []map[string]any{
		{"channelId": general, "messageId": "123456"},
		{"channelId": "999", "messageId": ids[0]},
	} {
		if err := ac.EmitAck("receipt:read", bad, &ack, 5*time.Second); err != nil || ack.OK || ack.Error.Code != "not_found" {
			t.Errorf("%v: %+v", bad, ack)
		}
	}
	if err := cc.EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": ids[2]}, &ack, 5*time.Second); err != nil || ack.OK {
		t.Fatalf("outsider receipt accepted: %+v", ack)
	}
	// The seed-compatible history marks bob's messages read up to alice's position.
	for id, read := range readMarks(t, s, bob, "/api/messages?channelId="+general) {
		want := id != ids[2]
		if read == nil || *read != want {
			t.Fatalf("message %s read=%v, want %v", id, read, want)
		}
	}
	// The receipts endpoint reports the positions (from memory; MongoDB gets them coalesced).
	res := s.Do(t, "GET", "/api/channels/"+general+"/receipts", bob.AccessToken, nil)
	if !strings.Contains(string(res.Body), `"lastReadId":"`+ids[1]+`"`) {
		t.Fatalf("receipts: %s", res.Body)
	}
}

func TestDeliveredReceiptsInADM(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	s.Do(t, "PUT", "/api/me/privacy", bob.AccessToken, map[string]string{"allowDMsFrom": "everyone"}) // strangers
	res := s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}})
	var dm struct{ ID string }
	res.JSON(t, &dm)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	m := sendMsg(t, ac, dm.ID, "did you get this?", "d1").Message
	if _, err := bc.WaitEvents("message:new", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var ack sendAck
	if err := bc.EmitAck("message:delivered", map[string]any{"channelId": dm.ID, "messageId": m.ID}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatalf("delivered: %+v %v", ack, err)
	}
	evs, err := ac.WaitEvents("receipt:delivered", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ UserID, MessageID string }
	_ = json.Unmarshal(evs[0], &rec)
	if rec.UserID != bob.ID || rec.MessageID != m.ID {
		t.Fatalf("delivered receipt: %+v", rec)
	}
	if err := bc.EmitAck("receipt:read", map[string]any{"channelId": dm.ID, "messageId": m.ID}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatal("read")
	}
	if _, err := ac.WaitEvents("receipt:update", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	res = s.Do(t, "GET", "/api/dms", bob.AccessToken, nil)
	if !strings.Contains(string(res.Body), `"unreadCount":0`) {
		t.Fatalf("bob's DM after reading: %s", res.Body)
	}
}

// Sending a message marks the channel read for its sender; the cached read positions of a channel must learn
// that, also for a member who had no position yet, or the history shows others' messages as unread by all.
func TestSendingMarksOlderMessagesReadInTheCachedHistory(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	first := sendMsg(t, ac, general, "anyone there?", "c1").Message.ID
	readOf := func() string {
		if read := readMarks(t, s, alice, "/api/channels/"+general+"/messages")[first]; read != nil {
			return fmt.Sprint(*read)
		}
		return "missing"
	}
	if r := readOf(); r != "false" { // this page also loads the channel's positions into memory
		t.Fatalf("before bob answered: read=%s", r)
	}
	sendMsg(t, bc, general, "yes", "c2")
	if r := readOf(); r != "true" {
		t.Fatalf("after bob answered: read=%s, want true", r)
	}
}

// readMarks fetches a history page and returns each message's "read by others" mark (nil: not the caller's).
func readMarks(t *testing.T, s *testserver.Server, acc testserver.Account, path string) map[string]*bool {
	t.Helper()
	var page struct {
		Messages []struct {
			ID   string
			Read *bool
		}
	}
	s.Do(t, "GET", path, acc.AccessToken, nil).JSON(t, &page)
	out := map[string]*bool{}
	for _, m := range page.Messages {
		out[m.ID] = m.Read
	}
	return out
}

// A chosen status (issue #16) on the real stack: a tab that connects invisible never shows online to others (they
// read offline, the user reads invisible); do not disturb is announced; back online is announced; the choice is
// kept in the settings (every tab gets it with settings:update), and a status the server does not know is refused.
func TestChosenStatusInvisibleAndDND(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	community(t, s, alice, bob)
	b := jsclient.Start(t)
	watcher := connect(t, b, s, bob)

	tab := b.Connect(s.URL, alice.AccessToken, jsclient.Options{Auth: map[string]any{"status": "invisible"}})
	if _, err := tab.WaitConnected(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // a few announcement ticks
	if evs := presenceEvents(t, watcher, alice.ID); len(evs) != 0 {
		t.Fatalf("an invisible connect was announced: %v", evs)
	}
	if got := getPresence(t, s, bob, alice.ID); got[alice.ID] != "offline" {
		t.Fatalf("bob reads %v, want offline", got)
	}
	if got := getPresence(t, s, alice, alice.ID); got[alice.ID] != "invisible" {
		t.Fatalf("alice reads herself as %v, want invisible", got)
	}

	var ack struct{ OK bool }
	if err := tab.EmitAck("presence:set", map[string]any{"status": "dnd"}, &ack, 5*time.Second); err != nil || !ack.OK {
		t.Fatalf("dnd: %v %+v", err, ack)
	}
	waitPresence(t, watcher, alice.ID, "dnd", 5*time.Second)
	if got := getPresence(t, s, bob, alice.ID); got[alice.ID] != "dnd" {
		t.Fatalf("bob reads %v, want dnd", got)
	}
	_ = tab.EmitAck("presence:set", map[string]any{"status": "online"}, &ack, 5*time.Second)
	waitPresence(t, watcher, alice.ID, "online", 5*time.Second)
	_ = tab.EmitAck("presence:set", map[string]any{"status": "invisible"}, &ack, 5*time.Second)
	waitPresence(t, watcher, alice.ID, "offline", 5*time.Second)

	// The choice in the settings: stored, sent to the user's tabs, validated.
	settings := map[string]any{"mutedChannels": []string{}, "mutedServers": []string{}, "suppressEveryone": []string{}, "notifySound": true, "desktop": "mentions", "status": "dnd"}
	if res := s.Do(t, "PUT", "/api/me/settings", alice.AccessToken, settings); res.Status != http.StatusOK {
		t.Fatalf("put settings: %d %s", res.Status, res.Body)
	}
	var got struct{ Status string }
	s.Do(t, "GET", "/api/me/settings", alice.AccessToken, nil).JSON(t, &got)
	if got.Status != "dnd" {
		t.Fatalf("stored status %q", got.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(fmt.Sprint(receivedEvents(tab, "settings:update")), `"status":"dnd"`) {
		if time.Now().After(deadline) {
			t.Fatal("no settings:update with the status")
		}
		time.Sleep(50 * time.Millisecond)
	}
	settings["status"] = "busy"
	if res := s.Do(t, "PUT", "/api/me/settings", alice.AccessToken, settings); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "status") {
		t.Fatalf("a bad status: %d %s", res.Status, res.Body)
	}
	// A user who never chose reads online.
	var fresh struct{ Status string }
	s.Do(t, "GET", "/api/me/settings", bob.AccessToken, nil).JSON(t, &fresh)
	if fresh.Status != "online" {
		t.Fatalf("default status %q", fresh.Status)
	}
}

// receivedEvents are the raw first arguments of the events of one name a client got.
func receivedEvents(c *jsclient.Client, name string) []string {
	var out []string
	for _, m := range c.Received() {
		if m.Event == name && len(m.Args) > 0 {
			out = append(out, string(m.Args[0]))
		}
	}
	return out
}
