package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// fakeOwners plays services/cluster: which node owns a channel, the channel leases, this node's deadline.
type fakeOwners struct {
	mu        sync.Mutex
	remote    map[int64]int64 // channel → owning node, when not this one
	deadline  time.Time
	takeover  bool // the next Acquire is a takeover from a dead holder
	held      bool // Acquire answers: another live node holds it
	acquired  []int64
	released  []int64
	epoch     int64
	prevSince time.Time
}

func newFakeOwners() *fakeOwners {
	return &fakeOwners{remote: map[int64]int64{}, deadline: time.Now().Add(time.Hour)}
}

func (o *fakeOwners) Owner(ch int64) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n, ok := o.remote[ch]; ok {
		return n, false
	}
	return 1, true
}

func (o *fakeOwners) Acquire(_ context.Context, ch int64) (model.ChannelLease, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held {
		return model.ChannelLease{}, fmt.Errorf("%w (by node 2)", model.ErrLeaseHeld)
	}
	o.epoch++
	o.acquired = append(o.acquired, ch)
	l := model.ChannelLease{Epoch: o.epoch, Token: fmt.Sprint(o.epoch), AcquiredAt: time.Now(), TakenOver: o.takeover, PreviousAcquiredAt: o.prevSince}
	o.takeover = false
	return l, nil
}

func (o *fakeOwners) Release(_ context.Context, ch int64, _ model.ChannelLease) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released = append(o.released, ch)
	return nil
}

func (o *fakeOwners) Deadline() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deadline
}

func (o *fakeOwners) set(fn func(o *fakeOwners)) { o.mu.Lock(); fn(o); o.mu.Unlock() }

type fakeForward struct {
	mu    sync.Mutex
	calls []string
	hold  chan struct{} // if set, a forwarded send waits for it to close
}

func (f *fakeForward) Send(_ context.Context, node int64, d model.Message) (model.Message, error) {
	if f.hold != nil {
		<-f.hold
	}
	user, ch, content, nonce := d.SenderID, d.ChannelID, d.Content, d.Nonce
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("send node=%d user=%d ch=%d %s %s", node, user, ch, content, nonce))
	f.mu.Unlock()
	return model.Message{ID: 42, ChannelID: ch, SenderID: user, Content: content, Nonce: nonce}, nil
}

func (f *fakeForward) Edit(_ context.Context, node, user, ch, id int64, content string, _ bool) (model.Message, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("edit node=%d ch=%d id=%d %s", node, ch, id, content))
	f.mu.Unlock()
	return model.Message{ID: id, ChannelID: ch, Content: content}, nil
}

func (f *fakeForward) Delete(_ context.Context, node, user, ch, id int64) error {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("delete node=%d ch=%d id=%d", node, ch, id))
	f.mu.Unlock()
	return nil
}

func (f *fakeForward) History(_ context.Context, node, user, ch int64, limit int) (Page, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("newest node=%d ch=%d limit=%d", node, ch, limit))
	f.mu.Unlock()
	return Page{Messages: []model.Message{{ID: 42, ChannelID: ch}}}, nil
}

func newClusterService(t *testing.T, store *fakeStore, owners *fakeOwners, fwd *fakeForward) (*Service, *recorder) {
	t.Helper()
	ids, _ := snowflake.New(1)
	rec := &recorder{}
	s := New(store, allowAll{}, rec, nil, ids, Config{FlushBatch: 8, FlushDelay: time.Millisecond,
		SendRate: time.Microsecond, SendBurst: 1_000_000, Owners: owners, Forward: fwd}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, rec
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.created) }

// A takeover from a dead owner hides whatever that owner still had in flight: its late write lands under the
// new owner's fence and is never read; the sender's retry is stored once by the new owner.
func TestTakeoverFencesTheDeadOwnersLateWrites(t *testing.T) {
	store := newFakeStore()
	ctx := context.Background()
	oldIDs, _ := snowflake.New(2)
	oldStamp := time.Now().UnixMicro()
	// What the dead owner stored (and acknowledged) before it died.
	var before []model.Message
	for i := range 3 {
		id := oldIDs.Next()
		before = append(before, model.Message{ID: id, ChannelID: 10, SenderID: 7, Content: "old", Nonce: fmt.Sprint("old-", i), CreatedAt: timeOf(id)})
	}
	if err := store.InsertBatch(ctx, before, oldStamp); err != nil {
		t.Fatal(err)
	}
	lateID := oldIDs.Next() // the dead owner's write still in flight

	owners := newFakeOwners()
	owners.set(func(o *fakeOwners) { o.takeover, o.prevSince = true, time.Now().Add(-time.Minute) })
	s, rec := newClusterService(t, store, owners, &fakeForward{})
	r := wait(t, send(t, s, 8, 10, "new owner's first", "new-0"), 2*time.Second)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.msg.ID <= before[2].ID {
		t.Errorf("new id %d is not above the newest stored id %d", r.msg.ID, before[2].ID)
	}
	if len(store.fences) != 1 || store.fences[0].after != before[2].ID {
		t.Fatalf("fences = %+v, want one above %d", store.fences, before[2].ID)
	}
	if got := store.stamps[r.msg.ID]; got <= store.fences[0].ts {
		t.Errorf("the new owner's write is stamped %d, not above its fence %d", got, store.fences[0].ts)
	}

	// The zombie wakes up and its write lands now, stamped no later than its old deadline.
	late := model.Message{ID: lateID, ChannelID: 10, SenderID: 7, Content: "late", Nonce: "old-3", CreatedAt: timeOf(lateID)}
	if err := store.InsertBatch(ctx, []model.Message{late}, oldStamp+1); err != nil {
		t.Fatal(err)
	}
	page, err := s.History(ctx, 7, 10, Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if m.ID == lateID {
			t.Fatal("the dead owner's late write is visible")
		}
	}
	if len(page.Messages) != 4 {
		t.Errorf("history has %d messages, want 4", len(page.Messages))
	}
	// Its sender retries with the same nonce: stored once, by the new owner.
	r = wait(t, send(t, s, 7, 10, "late", "old-3"), 2*time.Second)
	if r.err != nil || r.msg.ID == lateID || r.msg.ID <= r.msg.ID-1 {
		t.Fatalf("retry: %+v", r)
	}
	r2 := wait(t, send(t, s, 7, 10, "late", "old-3"), 2*time.Second)
	if r2.err != nil || r2.msg.ID != r.msg.ID {
		t.Fatalf("second retry answered %+v, want id %d", r2, r.msg.ID)
	}
	// A retry of a message the dead owner had stored is answered with that message.
	r3 := wait(t, send(t, s, 7, 10, "old", "old-1"), 2*time.Second)
	if r3.err != nil || r3.msg.ID != before[1].ID {
		t.Fatalf("retry of a stored message answered %+v, want id %d", r3, before[1].ID)
	}
	if n := rec.count(); n != 2 {
		t.Errorf("%d announcements, want 2 (the new owner's two new messages)", n)
	}
}

// blockingStore holds InsertBatch until released, so a test can move the lease's deadline mid-write.
type blockingStore struct {
	*fakeStore
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) InsertBatch(ctx context.Context, msgs []model.Message, ts int64) error {
	b.entered <- struct{}{}
	<-b.release
	return b.fakeStore.InsertBatch(ctx, msgs, ts)
}

// A write that returns after this node's lease lapsed is neither announced nor acknowledged as stored; when the
// sender retries (on this node, whose lease turned out to be still its own), the retry finds the stored row.
func TestNothingIsAnnouncedAfterTheLeaseLapsed(t *testing.T) {
	store := &blockingStore{fakeStore: newFakeStore(), entered: make(chan struct{}, 10), release: make(chan struct{}, 10)}
	owners := newFakeOwners()
	ids, _ := snowflake.New(1)
	rec := &recorder{}
	s := New(store, allowAll{}, rec, nil, ids, Config{FlushBatch: 8, FlushDelay: time.Millisecond,
		SendRate: time.Microsecond, SendBurst: 1_000_000, Owners: owners, Forward: &fakeForward{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { store.release <- struct{}{}; _ = s.Close(context.Background()) })

	ack := send(t, s, 1, 10, "hello", "n1")
	<-store.entered
	owners.set(func(o *fakeOwners) { o.deadline = time.Now().Add(-time.Millisecond) })
	store.release <- struct{}{}
	r := wait(t, ack, 2*time.Second)
	if !apperr.Is(r.err, apperr.Unavailable) {
		t.Fatalf("ack after the lease lapsed: %+v, want unavailable", r)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d announcements after the lease lapsed", n)
	}
	stored := store.sorted(10)
	if len(stored) != 1 {
		t.Fatalf("%d rows stored, want 1", len(stored))
	}

	// The lease was renewed after all; the retry is answered from the retry horizon, not stored again.
	owners.set(func(o *fakeOwners) { o.deadline = time.Now().Add(time.Hour) })
	retry := send(t, s, 1, 10, "hello", "n1")
	r = wait(t, retry, 2*time.Second)
	if r.err != nil || r.msg.ID != stored[0].ID {
		t.Fatalf("retry: %+v, want the stored id %d", r, stored[0].ID)
	}
	if n := len(store.sorted(10)); n != 1 {
		t.Fatalf("%d rows after the retry, want 1", n)
	}
}

// While this node cannot confirm its lease, nothing is written; the messages wait and go out once it can.
func TestWritesWaitWhileTheLeaseIsNotConfirmed(t *testing.T) {
	store := newFakeStore()
	owners := newFakeOwners()
	s, rec := newClusterService(t, store, owners, &fakeForward{})
	wait(t, send(t, s, 1, 10, "first", "n0"), 2*time.Second) // takes the lease
	owners.set(func(o *fakeOwners) { o.deadline = time.Now().Add(-time.Second) })
	ack := send(t, s, 1, 10, "second", "n1")
	select {
	case r := <-ack:
		t.Fatalf("answered while the lease was unconfirmed: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if n := len(store.sorted(10)); n != 1 {
		t.Fatalf("%d rows written while the lease was unconfirmed", n)
	}
	owners.set(func(o *fakeOwners) { o.deadline = time.Now().Add(time.Hour) })
	if r := wait(t, ack, 5*time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	if n := rec.count(); n != 2 {
		t.Fatalf("%d announcements, want 2", n)
	}
}

// Retries of a send that is still on its way to the owner ride on that forward (none is forwarded twice), and
// a retry over the sender's rate limit is answered too, not refused.
func TestRetriesOfAForwardedSendShareIt(t *testing.T) {
	owners := newFakeOwners()
	owners.remote[10] = 3
	fwd := &fakeForward{hold: make(chan struct{})}
	ids, _ := snowflake.New(1)
	s := New(newFakeStore(), allowAll{}, &recorder{}, nil, ids, Config{SendRate: time.Hour, SendBurst: 2, Owners: owners, Forward: fwd},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	acks := []chan result{send(t, s, 1, 10, "hi", "n1"), send(t, s, 1, 10, "hi", "n1"), send(t, s, 1, 10, "hi", "n1")} // the third is over the burst of 2
	close(fwd.hold)
	for i, ack := range acks {
		if r := wait(t, ack, 2*time.Second); r.err != nil || r.msg.ID != 42 {
			t.Fatalf("attempt %d: %+v", i+1, r)
		}
	}
	if len(fwd.calls) != 1 {
		t.Fatalf("forwarded %d times: %q", len(fwd.calls), fwd.calls)
	}
	if err := s.Send(context.Background(), Draft{UserID: 1, ChannelID: 10, Content: "new", Nonce: "n2"}, func(model.Message, error) {}); !apperr.Is(err, apperr.RateLimited) {
		t.Fatalf("a new message over the limit: %v, want rate_limited", err)
	}
}

// Sends, edits and deletes of a channel another node owns go to that node; nothing is kept here.
func TestCallsForAnotherNodesChannelAreForwarded(t *testing.T) {
	store := newFakeStore()
	owners := newFakeOwners()
	owners.remote[10] = 3
	fwd := &fakeForward{}
	s, rec := newClusterService(t, store, owners, fwd)
	r := wait(t, send(t, s, 1, 10, "hi", "n1"), 2*time.Second)
	if r.err != nil || r.msg.ID != 42 {
		t.Fatalf("forwarded send: %+v", r)
	}
	if _, err := s.Edit(context.Background(), 1, 10, 42, "edited", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(context.Background(), 1, 10, 42); err != nil {
		t.Fatal(err)
	}
	page, err := s.History(context.Background(), 1, 10, Query{Limit: 20})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != 42 {
		t.Fatalf("forwarded newest page: %+v %v", page, err)
	}
	if _, err := s.History(context.Background(), 1, 10, Query{Before: 42}); err != nil { // older pages: Cassandra here
		t.Fatal(err)
	}
	want := []string{"send node=3 user=1 ch=10 hi n1", "edit node=3 ch=10 id=42 edited", "delete node=3 ch=10 id=42", "newest node=3 ch=10 limit=20"}
	if fmt.Sprint(fwd.calls) != fmt.Sprint(want) {
		t.Errorf("forwarded %q, want %q", fwd.calls, want)
	}
	if rec.count() != 0 || len(owners.acquired) != 0 || len(store.batches) != 0 {
		t.Errorf("local work for a remote channel: %d announcements, %d leases, %d batches", rec.count(), len(owners.acquired), len(store.batches))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.convs) != 0 {
		t.Errorf("%d conversations kept for a remote channel", len(s.convs))
	}
	// A denied user is refused here, before anything is forwarded.
	if _, err := New(store, allowAll{denied: map[int64]bool{9: true}}, rec, nil, nil, Config{Owners: owners, Forward: fwd},
		slog.New(slog.NewTextHandler(io.Discard, nil))).Edit(context.Background(), 9, 10, 42, "x", false); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("denied edit: %v", err)
	}
}

// A lease another live node holds (a handoff in progress) fails the send over with a retryable error.
func TestALeaseHeldElsewhereFailsOver(t *testing.T) {
	store := newFakeStore()
	owners := newFakeOwners()
	owners.held = true
	s, rec := newClusterService(t, store, owners, &fakeForward{})
	r := wait(t, send(t, s, 1, 10, "hi", "n1"), 2*time.Second)
	if !errors.Is(r.err, errMoved) {
		t.Fatalf("send while the lease is held elsewhere: %+v", r)
	}
	owners.set(func(o *fakeOwners) { o.held = false })
	r = wait(t, send(t, s, 1, 10, "hi", "n1"), 2*time.Second)
	if r.err != nil || rec.count() != 1 {
		t.Fatalf("retry once the lease is free: %+v, %d announcements", r, rec.count())
	}
}

// When another node becomes a channel's owner, this node finishes what it queued and releases the lease;
// when this node loses its own lease, every conversation is dropped.
func TestRebalanceAndLeaseLoss(t *testing.T) {
	store := newFakeStore()
	owners := newFakeOwners()
	s, _ := newClusterService(t, store, owners, &fakeForward{})
	for _, ch := range []int64{10, 11} {
		if r := wait(t, send(t, s, 1, ch, "hi", "n1"), 2*time.Second); r.err != nil {
			t.Fatal(r.err)
		}
	}
	owners.set(func(o *fakeOwners) { o.remote[10] = 2 })
	s.rebalance()
	if fmt.Sprint(owners.released) != "[10]" {
		t.Fatalf("released %v, want [10]", owners.released)
	}
	if c := s.readable(10); c != nil {
		t.Error("channel 10 still served from memory after its handoff")
	}
	if c := s.readable(11); c == nil {
		t.Error("channel 11 dropped though it stays here")
	}
	s.LeaseLost()
	if c := s.readable(11); c != nil {
		t.Error("channel 11 still served from memory after the node lost its lease")
	}
	// The next send takes the lease again, as a new conversation.
	if r := wait(t, send(t, s, 1, 11, "again", "n2"), 2*time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	if n := len(owners.acquired); n != 3 {
		t.Errorf("%d acquisitions, want 3", n)
	}
}
