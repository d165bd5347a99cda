package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/redis"
	"github.com/parleychat/parley/services/cluster"
)

func newNode(t *testing.T, c *goredis.Client, prefix string, id int64, ttl time.Duration) *cluster.Node {
	t.Helper()
	return cluster.New(cluster.Config{NodeID: id, Advertise: fmt.Sprintf("127.0.0.1:%d", 9100+id), LeaseTTL: ttl, Refresh: 50 * time.Millisecond},
		redis.NewNodes(c, prefix), redis.NewLeases(c, prefix), redis.NewBus(c, prefix), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func start(t *testing.T, n *cluster.Node) {
	t.Helper()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Three nodes agree on every channel's owner, spread channels over all of them, and when one leaves, only its
// channels move.
func TestOwnersAgreeAndOnlyALeaversChannelsMove(t *testing.T) {
	c, prefix := testenv.Redis(t)
	nodes := []*cluster.Node{newNode(t, c, prefix, 1, 2*time.Second), newNode(t, c, prefix, 2, 2*time.Second), newNode(t, c, prefix, 3, 2*time.Second)}
	left := make(chan int64, 3)
	nodes[0].OnNodeLeft(func(id int64) { left <- id })
	for _, n := range nodes {
		start(t, n)
	}
	waitFor(t, "three live nodes", func() bool {
		return len(nodes[0].Peers()) == 3 && len(nodes[1].Peers()) == 3 && len(nodes[2].Peers()) == 3
	})
	before := map[int64]int64{}
	perNode := map[int64]int{}
	for ch := int64(1000); ch < 4000; ch++ {
		o1, local := nodes[0].Owner(ch)
		o2, _ := nodes[1].Owner(ch)
		o3, _ := nodes[2].Owner(ch)
		if o1 != o2 || o2 != o3 {
			t.Fatalf("channel %d: owners %d %d %d", ch, o1, o2, o3)
		}
		if local != (o1 == 1) {
			t.Fatalf("channel %d: local=%v for owner %d on node 1", ch, local, o1)
		}
		before[ch] = o1
		perNode[o1]++
	}
	for id, n := range perNode {
		if n < 800 || n > 1200 {
			t.Errorf("node %d owns %d of 3000 channels", id, n)
		}
	}
	nodes[2].Stop(context.Background())
	select {
	case id := <-left:
		if id != 3 {
			t.Fatalf("node %d reported gone", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node 3's departure was not noticed")
	}
	for ch, was := range before {
		now, _ := nodes[0].Owner(ch)
		if was != 3 && now != was {
			t.Fatalf("channel %d moved from node %d to %d though its owner stayed", ch, was, now)
		}
		if now == 3 {
			t.Fatalf("channel %d still owned by the departed node", ch)
		}
	}
	if addr, ok := nodes[0].Addr(2); !ok || addr != "127.0.0.1:9102" {
		t.Errorf("Addr(2) = %q %v", addr, ok)
	}
}

// A second process with a node id in use is refused; a node whose lease expired (it was frozen) learns it,
// drops its channels (hook) and rejoins under a new incarnation, so its old channel leases count as dead.
func TestDuplicateIDsAndLostLeases(t *testing.T) {
	c, prefix := testenv.Redis(t)
	a := newNode(t, c, prefix, 1, 2*time.Second)
	var lost sync.WaitGroup
	lost.Add(1)
	var once sync.Once
	a.OnLeaseLost(func() { once.Do(lost.Done) })
	start(t, a)
	dup := newNode(t, c, prefix, 1, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dup.Start(ctx); err == nil {
		dup.Stop(context.Background())
		t.Fatal("a second node with id 1 started")
	}
	lease, err := a.Acquire(context.Background(), 55)
	if err != nil {
		t.Fatal(err)
	}
	if !time.Now().Before(a.Deadline()) {
		t.Fatal("the deadline of a fresh lease has passed")
	}
	// Redis forgets the node's lease, as after a freeze longer than the TTL.
	c.Del(context.Background(), prefix+":node:1")
	done := make(chan struct{})
	go func() { lost.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the lost lease was not noticed")
	}
	waitFor(t, "the node to rejoin", func() bool { return time.Now().Before(a.Deadline()) })
	again, err := a.Acquire(context.Background(), 55)
	if err != nil || !again.TakenOver || again.Epoch != lease.Epoch+1 {
		t.Fatalf("after rejoining, the channel must be taken over with a new epoch: %+v %v (was %+v)", again, err, lease)
	}
}

// Bus messages reach every other node in order, never the sender; PublishWait returns once sent.
func TestTopicsReachTheOtherNodesInOrder(t *testing.T) {
	c, prefix := testenv.Redis(t)
	a, b := newNode(t, c, prefix, 1, 2*time.Second), newNode(t, c, prefix, 2, 2*time.Second)
	var mu sync.Mutex
	var gotA, gotB []string
	a.Handle('x', func(p []byte) { mu.Lock(); gotA = append(gotA, string(p)); mu.Unlock() })
	b.Handle('x', func(p []byte) { mu.Lock(); gotB = append(gotB, string(p)); mu.Unlock() })
	var otherTopic int
	b.Handle('y', func([]byte) { mu.Lock(); otherTopic++; mu.Unlock() })
	start(t, a)
	start(t, b)
	tx, ty := a.Topic('x'), a.Topic('y')
	var want []string
	for i := range 200 {
		want = append(want, fmt.Sprint(i))
		if i%50 == 49 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := tx.PublishWait(ctx, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			cancel()
			continue
		}
		tx.Publish([]byte(fmt.Sprint(i)))
	}
	ty.Publish([]byte("other"))
	waitFor(t, "200 messages on node 2", func() bool { mu.Lock(); defer mu.Unlock(); return len(gotB) == 200 && otherTopic == 1 })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(gotB) != fmt.Sprint(want) {
		t.Errorf("node 2 received %v", gotB)
	}
	if len(gotA) != 0 {
		t.Errorf("the sender received its own %d messages", len(gotA))
	}
}
