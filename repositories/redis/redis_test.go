package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/redis"
)

func TestNodeLeases(t *testing.T) {
	c, prefix := testenv.Redis(t)
	ctx := context.Background()
	n := redis.NewNodes(c, prefix)
	if ok, err := n.Register(ctx, 1, "inc1|10.0.0.1:9100", time.Minute); err != nil || !ok {
		t.Fatalf("register: %v %v", ok, err)
	}
	if ok, _ := n.Register(ctx, 1, "inc2|10.0.0.9:9100", time.Minute); ok {
		t.Fatal("a second process took node 1's lease")
	}
	if ok, _ := n.Register(ctx, 2, "incB|10.0.0.2:9100", 300*time.Millisecond); !ok {
		t.Fatal("register node 2")
	}
	live, err := n.Live(ctx)
	if err != nil || len(live) != 2 || live[1] != "inc1|10.0.0.1:9100" {
		t.Fatalf("live = %v, %v", live, err)
	}
	if ok, _ := n.Renew(ctx, 1, "inc1|10.0.0.1:9100", time.Minute); !ok {
		t.Error("renewing a held lease failed")
	}
	if ok, _ := n.Renew(ctx, 1, "other|x", time.Minute); ok {
		t.Error("renewed another incarnation's lease")
	}
	time.Sleep(400 * time.Millisecond) // node 2's lease expires
	if ok, _ := n.Renew(ctx, 2, "incB|10.0.0.2:9100", time.Minute); ok {
		t.Error("an expired lease was renewed (a node that was frozen must not resurrect it)")
	}
	if live, _ := n.Live(ctx); len(live) != 1 {
		t.Errorf("live after node 2 expired = %v", live)
	}
	if err := n.Deregister(ctx, 1, "other|x"); err != nil {
		t.Fatal(err)
	}
	if live, _ := n.Live(ctx); len(live) != 1 {
		t.Error("deregistering with another incarnation removed the lease")
	}
	if err := n.Deregister(ctx, 1, "inc1|10.0.0.1:9100"); err != nil {
		t.Fatal(err)
	}
	if live, _ := n.Live(ctx); len(live) != 0 {
		t.Errorf("live after deregistering = %v", live)
	}
}

func TestChannelLeases(t *testing.T) {
	c, prefix := testenv.Redis(t)
	ctx := context.Background()
	nodes := redis.NewNodes(c, prefix)
	leases := redis.NewLeases(c, prefix)
	nodes.Register(ctx, 1, "a|x", time.Minute)
	nodes.Register(ctx, 2, "b|y", time.Minute)

	l1, err := leases.Acquire(ctx, 77, 1, "a")
	if err != nil || l1.Epoch != 1 || l1.TakenOver {
		t.Fatalf("first acquire: %+v %v", l1, err)
	}
	again, err := leases.Acquire(ctx, 77, 1, "a")
	if err != nil || again.Epoch != 1 || again.TakenOver {
		t.Fatalf("acquire by the holder: %+v %v", again, err)
	}
	if _, err := leases.Acquire(ctx, 77, 2, "b"); !errors.Is(err, model.ErrLeaseHeld) {
		t.Fatalf("acquire of a lease a live node holds: %v", err)
	}
	// Node 1 restarts (new incarnation): its old lease is dead, the new process takes over.
	if err := nodes.Deregister(ctx, 1, "a|x"); err != nil {
		t.Fatal(err)
	}
	nodes.Register(ctx, 1, "a2|x", time.Minute)
	l2, err := leases.Acquire(ctx, 77, 2, "b")
	if err != nil || l2.Epoch != 2 || !l2.TakenOver || l2.PreviousAcquiredAt.UnixMilli() != l1.AcquiredAt.UnixMilli() {
		t.Fatalf("takeover: %+v %v (first %+v)", l2, err, l1)
	}
	if _, err := leases.Acquire(ctx, 77, 1, "a2"); !errors.Is(err, model.ErrLeaseHeld) {
		t.Fatalf("the restarted node took a lease node 2 holds: %v", err)
	}
	// A release with a stale token does nothing; the holder's release frees it without a takeover.
	if err := leases.Release(ctx, 77, l1.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Acquire(ctx, 77, 1, "a2"); !errors.Is(err, model.ErrLeaseHeld) {
		t.Fatal("a stale release freed the lease")
	}
	if err := leases.Release(ctx, 77, l2.Token); err != nil {
		t.Fatal(err)
	}
	l3, err := leases.Acquire(ctx, 77, 1, "a2")
	if err != nil || l3.Epoch != 3 || l3.TakenOver {
		t.Fatalf("acquire after a release: %+v %v", l3, err)
	}
}

func TestBusKeepsOrder(t *testing.T) {
	c, prefix := testenv.Redis(t)
	bus := redis.NewBus(c, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = bus.Subscribe(ctx, func() { once.Do(func() { close(ready) }) }, func(b []byte) {
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
		})
	}()
	<-ready
	var want []string
	for i := range 50 {
		batch := [][]byte{}
		for j := range i % 4 {
			batch = append(batch, []byte(fmt.Sprint(i, "-", j)))
			want = append(want, fmt.Sprint(i, "-", j))
		}
		if len(batch) > 0 {
			if err := bus.Publish(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v, want %v", got, want)
	}
}

func TestRateLimiterIsShared(t *testing.T) {
	c, prefix := testenv.Redis(t)
	ctx := context.Background()
	// Two limiters (two nodes) on the same key share one budget: a burst of 5, then one per second.
	a, b := redis.NewRateLimiter(c, prefix, time.Second, 5), redis.NewRateLimiter(c, prefix, time.Second, 5)
	allowed := 0
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		ok, wait, err := l.Allow(ctx, "user:1")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else if wait <= 0 || wait > time.Second {
			t.Errorf("refused with wait %v", wait)
		}
	}
	if allowed != 5 {
		t.Fatalf("%d of 10 allowed across two nodes, want the burst of 5", allowed)
	}
	if ok, _, _ := a.Allow(ctx, "user:2"); !ok {
		t.Error("another key was limited")
	}
}

// TestKeyNotices: the key service's notices go through Redis pub/sub to every subscriber, in order; malformed
// messages and notices without users are skipped.
func TestKeyNotices(t *testing.T) {
	c, prefix := testenv.Redis(t)
	kn := redis.NewKeyNotices(c, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{}, 4)
	got := make(chan model.KeyNotice, 4)
	done := make(chan error, 1)
	go func() {
		done <- kn.Subscribe(ctx, func() { ready <- struct{}{} }, func(n model.KeyNotice) { got <- n })
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("not subscribed")
	}
	if err := c.Publish(ctx, prefix+":keys:notices", "not json").Err(); err != nil {
		t.Fatal(err)
	}
	if err := kn.Notify(ctx, model.KeyNotice{Reason: "commit"}); err != nil { // nobody to tell
		t.Fatal(err)
	}
	want := model.KeyNotice{UserIDs: []int64{7, 9}, GroupID: "g1", Reason: "commit"}
	if err := kn.Notify(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n.GroupID != want.GroupID || n.Reason != want.Reason || len(n.UserIDs) != 2 || n.UserIDs[1] != 9 {
			t.Fatalf("got %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notice")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a malformed or empty notice came through: %+v", <-got)
	}
}
