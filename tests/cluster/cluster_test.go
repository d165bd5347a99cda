// Package cluster runs several Parley nodes in this test process, on the real local databases and Redis, with
// clients of the official socket.io-client on different nodes, and checks that they make one service: messages,
// edits, deletes, typing and receipts cross nodes, each channel's ids only increase, a kick reaches every node,
// and a node that leaves hands its channels over without losing or duplicating anything.
package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

type msg struct {
	ID, ChannelID, SenderID, Content, Nonce string
	EditedAt                                *string
}

type ack struct {
	OK      bool `json:"ok"`
	Message msg  `json:"message"`
	Error   struct {
		Code      string `json:"code"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNodes starts n nodes of one cluster: the same databases, a Redis prefix of their own.
func startNodes(t *testing.T, n int) []*testserver.Server {
	t.Helper()
	redisURL := testenv.RedisURL(t)
	_, prefix := testenv.Redis(t) // deletes the cluster's keys at the end
	pg, mongoDB := testenv.PostgresURL(t), testenv.UniqueName("test")
	var nodes []*testserver.Server
	for i := 1; i <= n; i++ {
		nodes = append(nodes, testserver.Start(t, testserver.Options{PGURL: pg, MongoDB: mongoDB, Env: map[string]string{
			"PARLEY_NODE_ID":           strconv.Itoa(i),
			"PARLEY_CLUSTER_ADDR":      freeAddr(t),
			"PARLEY_CLUSTER_SECRET":    "cluster-test-secret-cluster-test-secret",
			"PARLEY_CLUSTER_LEASE_TTL": "5s", // no node is killed here; leaving ones end their lease
			"PARLEY_REDIS_URL":         redisURL,
			"PARLEY_REDIS_PREFIX":      prefix,
			"PARLEY_SEND_RATE":         "1000",
			"PARLEY_SEND_BURST":        "1000",
		}}))
	}
	return nodes
}

// community creates a server owned by owner (through node s) that the others join; it returns the server
// and #general ids.
func community(t *testing.T, s *testserver.Server, owner testserver.Account, members ...testserver.Account) (string, string) {
	t.Helper()
	var srv struct{ ID string }
	s.Do(t, "POST", "/api/servers", owner.AccessToken, map[string]string{"name": "Cluster"}).JSON(t, &srv)
	var inv struct{ Code string }
	s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, nil).JSON(t, &inv)
	for _, m := range members {
		if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", m.AccessToken, nil); res.Status != http.StatusOK {
			t.Fatalf("join: %d %s", res.Status, res.Body)
		}
	}
	var chans struct{ Channels []struct{ ID string } }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	return srv.ID, chans.Channels[0].ID
}

func connect(t *testing.T, b *jsclient.Bridge, s *testserver.Server, acc testserver.Account) *jsclient.Client {
	t.Helper()
	c := b.Connect(s.URL, acc.AccessToken, jsclient.Options{})
	if _, err := c.WaitConnected(1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// send emits message:send and, like every client, retries with the same nonce while the answer is a retryable
// error (a channel changes owner while nodes join or leave); it returns the first final answer.
func send(c *jsclient.Client, channelID, content, nonce string) (ack, error) {
	var a ack
	for attempt := 0; ; attempt++ {
		a = ack{}
		err := c.EmitAck("message:send", map[string]any{"channelId": channelID, "content": content, "nonce": nonce}, &a, 20*time.Second)
		if err != nil || a.OK || !a.Error.Retryable {
			return a, err
		}
		if attempt == 50 {
			return a, fmt.Errorf("send %s: still %s after %d attempts", nonce, a.Error.Code, attempt+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func decode[T any](t *testing.T, raws []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func ids(ms []msg) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i], _ = strconv.ParseInt(m.ID, 10, 64)
	}
	return out
}

// history reads a channel's whole history through one node, oldest first.
func history(t *testing.T, s *testserver.Server, token, channelID string) []msg {
	t.Helper()
	var all []msg
	before := ""
	for {
		var page struct{ Messages []msg }
		s.Do(t, "GET", "/api/channels/"+channelID+"/messages?limit=100"+before, token, nil).JSON(t, &page)
		all = append(all, page.Messages...)
		if len(page.Messages) < 100 {
			break
		}
		before = "&before=" + page.Messages[len(page.Messages)-1].ID
	}
	slices.Reverse(all)
	return all
}

func TestOneChannelAcrossThreeNodes(t *testing.T) {
	nodes := startNodes(t, 3)
	alice, bob, carol := nodes[0].Register(t, "alice"), nodes[1].Register(t, "bob"), nodes[2].Register(t, "carol")
	_, general := community(t, nodes[0], alice, bob, carol)
	b := jsclient.Start(t)
	accs := []testserver.Account{alice, bob, carol}
	clients := []*jsclient.Client{connect(t, b, nodes[0], alice), connect(t, b, nodes[1], bob), connect(t, b, nodes[2], carol)}

	// Each user sends 20 messages from their own node, all at once.
	const each = 20
	acked := make([][]msg, 3)
	var wg sync.WaitGroup
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a, err := send(clients[k], general, fmt.Sprintf("%s #%d", accs[k].Username, i), fmt.Sprintf("%s-%d", accs[k].Username, i))
				if err != nil || !a.OK {
					t.Errorf("%s #%d: %v %+v", accs[k].Username, i, err, a)
					return
				}
				acked[k] = append(acked[k], a.Message)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	stored := history(t, nodes[1], bob.AccessToken, general)
	if len(stored) != 3*each {
		t.Fatalf("history holds %d messages, want %d", len(stored), 3*each)
	}
	for k, c := range clients {
		got := decode[msg](t, mustEvents(t, c, "message:new", 3*each))
		if !slices.Equal(ids(got), ids(stored)) {
			t.Errorf("%s (node %d) saw ids %v, history is %v", accs[k].Username, k+1, ids(got), ids(stored))
		}
	}
	for k := range acked { // each sender's order kept, acks match the history
		if !slices.IsSorted(ids(acked[k])) {
			t.Errorf("%s's acks are out of order", accs[k].Username)
		}
	}
	for _, n := range nodes[1:] {
		if h := history(t, n, alice.AccessToken, general); !slices.Equal(ids(h), ids(stored)) {
			t.Errorf("node %s serves a different history", n.URL)
		}
	}

	// Edits and deletes from any node reach everyone.
	var edited struct {
		Message msg `json:"message"`
	}
	if err := clients[1].EmitAck("message:edit", map[string]any{"channelId": general, "messageId": acked[1][0].ID, "content": "bob, edited"}, &edited, 10*time.Second); err != nil || edited.Message.Content != "bob, edited" {
		t.Fatalf("edit through node 2: %v %+v", err, edited)
	}
	var deleted map[string]any
	if err := clients[2].EmitAck("message:delete", map[string]any{"channelId": general, "messageId": acked[2][0].ID}, &deleted, 10*time.Second); err != nil || deleted["ok"] != true {
		t.Fatalf("delete through node 3: %v %v", err, deleted)
	}
	for k, c := range clients {
		up := decode[msg](t, mustEvents(t, c, "message:updated", 1))
		if up[0].Content != "bob, edited" {
			t.Errorf("%s saw the edit as %+v", accs[k].Username, up[0])
		}
		mustEvents(t, c, "message:deleted", 1)
	}

	// Typing and read receipts cross nodes too.
	clients[0].Emit("typing:start", map[string]any{"channelId": general})
	mustEvents(t, clients[2], "typing:user", 1)
	last := stored[len(stored)-1].ID
	var rd map[string]any
	if err := clients[1].EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": last}, &rd, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mustEvents(t, clients[0], "receipt:update", 1)
}

func mustEvents(t *testing.T, c *jsclient.Client, event string, n int) []json.RawMessage {
	t.Helper()
	got, err := c.WaitEvents(event, n, 15*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", event, err)
	}
	if len(got) != n {
		t.Fatalf("%s: %d events, want %d", event, len(got), n)
	}
	return got
}

// A kick on one node takes effect on every node at once: the kicked user's socket on another node leaves the
// rooms, and their next send there is refused (the access cache was cleared everywhere).
func TestAKickReachesEveryNode(t *testing.T) {
	nodes := startNodes(t, 2)
	alice, bob := nodes[0].Register(t, "alice"), nodes[1].Register(t, "bob")
	serverID, general := community(t, nodes[0], alice, bob)
	b := jsclient.Start(t)
	ca, cb := connect(t, b, nodes[0], alice), connect(t, b, nodes[1], bob)
	// Bob sends once, so node 2 has his access cached.
	if a, err := send(cb, general, "hello", "b-1"); err != nil || !a.OK {
		t.Fatalf("bob's first send: %v %+v", err, a)
	}
	mustEvents(t, ca, "message:new", 1)
	if res := nodes[0].Do(t, "DELETE", "/api/servers/"+serverID+"/members/"+bob.ID, alice.AccessToken, nil); res.Status != http.StatusNoContent {
		t.Fatalf("kick: %d %s", res.Status, res.Body)
	}
	if a, err := send(ca, general, "after the kick", "a-1"); err != nil || !a.OK {
		t.Fatalf("alice's send: %v %+v", err, a)
	}
	a, err := send(cb, general, "still here?", "b-2")
	if err != nil || a.OK || a.Error.Code != "not_found" {
		t.Fatalf("bob's send after the kick: %v %+v, want not_found", err, a)
	}
	time.Sleep(300 * time.Millisecond)
	if got := cb.Events("message:new"); len(got) != 1 {
		t.Fatalf("bob received %d messages, want only his own from before the kick", len(got))
	}
}

// A node that stops hands its channels over: the clients on the other nodes go on sending, every message is
// stored once, and each channel's ids only increase.
func TestANodeLeavingHandsItsChannelsOver(t *testing.T) {
	nodes := startNodes(t, 3)
	alice, bob := nodes[0].Register(t, "alice"), nodes[0].Register(t, "bob")
	_, general := community(t, nodes[0], alice, bob)
	// Put both users on the nodes that stay, and find the channel's owner by sending once.
	b := jsclient.Start(t)
	var stay []*testserver.Server
	var leaving *testserver.Server
	ca := connect(t, b, nodes[0], alice)
	if a, err := send(ca, general, "first", "a-first"); err != nil || !a.OK {
		t.Fatal(err, a)
	}
	for _, n := range nodes {
		if n.App.OwnsChannel(general) {
			leaving = n
		} else {
			stay = append(stay, n)
		}
	}
	if leaving == nil {
		t.Fatal("no node owns the channel")
	}
	ca.Disconnect()
	ca, cb := connect(t, b, stay[0], alice), connect(t, b, stay[1], bob)
	var wg sync.WaitGroup
	stopped := make(chan struct{})
	results := make([][]msg, 2)
	for k, c := range []*jsclient.Client{ca, cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				if i == 20 && k == 0 {
					go func() { _ = leaving.Stop(); close(stopped) }()
				}
				nonce := fmt.Sprintf("%d-%d", k, i)
				a, err := send(c, general, nonce, nonce)
				if err != nil || !a.OK {
					t.Errorf("send %s: %v %+v", nonce, err, a)
					return
				}
				results[k] = append(results[k], a.Message)
			}
		}()
	}
	wg.Wait()
	<-stopped
	stored := history(t, stay[0], alice.AccessToken, general)
	if len(stored) != 121 {
		t.Errorf("history holds %d messages, want 121", len(stored))
	}
	seen := map[string]int{}
	for _, m := range stored {
		seen[m.Nonce]++
	}
	for n, c := range seen {
		if c != 1 {
			t.Errorf("nonce %s stored %d times", n, c)
		}
	}
	for k := range results {
		if !slices.IsSorted(ids(results[k])) {
			t.Errorf("sender %d's acks are out of order", k)
		}
	}
	for _, c := range []*jsclient.Client{ca, cb} {
		got := ids(decode[msg](t, c.Events("message:new")))
		if !slices.IsSorted(got) {
			t.Errorf("a client saw ids out of order: %v", got)
		}
	}
}
