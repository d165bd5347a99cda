package messaging

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// fakeStore is an in-memory message log whose writes can be made to fail, for testing flush triggers,
// retries and back-pressure without timing on a real database (the real one is covered by integration tests).
type fakeStore struct {
	mu         sync.Mutex
	msgs       map[int64]model.Message
	batches    [][]model.Message
	nonceReads int
	failing    bool
	calls      int
	written    chan int        // receives the size of each successful batch
	stamps     map[int64]int64 // message id → write timestamp (0 = unstamped)
	fences     []fence
}

// fence is a range tombstone: rows of channel above after, written before ts, are gone.
type fence struct{ channel, after, ts int64 }

// fencedLocked reports whether a stored row is hidden by a fence (as Cassandra's range tombstones hide it).
func (f *fakeStore) fencedLocked(m model.Message) bool {
	for _, fc := range f.fences {
		if fc.channel == m.ChannelID && m.ID > fc.after && f.stamps[m.ID] < fc.ts {
			return true
		}
	}
	return false
}

func newFakeStore() *fakeStore {
	return &fakeStore{msgs: map[int64]model.Message{}, written: make(chan int, 1000), stamps: map[int64]int64{}}
}

func (f *fakeStore) setFailing(v bool) { f.mu.Lock(); f.failing = v; f.mu.Unlock() }

func (f *fakeStore) InsertBatch(_ context.Context, msgs []model.Message, ts int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failing {
		return errors.New("cassandra is down")
	}
	for _, m := range msgs {
		f.msgs[m.ID] = m
		f.stamps[m.ID] = ts
	}
	f.batches = append(f.batches, append([]model.Message(nil), msgs...))
	f.written <- len(msgs)
	return nil
}

func (f *fakeStore) Nonces(_ context.Context, channelID, since int64, limit int) ([]model.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nonceReads++
	if f.failing {
		return nil, errors.New("cassandra is down")
	}
	var out []model.Message
	for _, m := range f.msgs {
		if m.ChannelID == channelID && m.ID >= since && !f.fencedLocked(m) {
			out = append(out, model.Message{ID: m.ID, ChannelID: m.ChannelID, SenderID: m.SenderID, Nonce: m.Nonce})
		}
	}
	slices.SortFunc(out, func(a, b model.Message) int { return cmp.Compare(b.ID, a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeStore) Get(_ context.Context, _, id int64) (model.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[id]
	if !ok || f.fencedLocked(m) {
		return model.Message{}, model.ErrNotFound
	}
	return m, nil
}

func (f *fakeStore) Newest(_ context.Context, channelID int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var newest int64
	for _, m := range f.msgs {
		if m.ChannelID == channelID && !f.fencedLocked(m) {
			newest = max(newest, m.ID)
		}
	}
	return newest, nil
}

func (f *fakeStore) Fence(_ context.Context, channelID, after int64, _ time.Time, ts int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fences = append(f.fences, fence{channelID, after, ts})
	return nil
}

func (f *fakeStore) Edit(_ context.Context, e model.Message, at time.Time, _ int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs[e.ID]
	m.Content, m.EditedAt, m.Mentions, m.MentionEveryone = e.Content, &at, e.Mentions, e.MentionEveryone
	f.msgs[e.ID] = m
	return nil
}

func (f *fakeStore) Delete(_ context.Context, _, id int64, _ int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs[id]
	m.Deleted = true
	f.msgs[id] = m
	return nil
}

func (f *fakeStore) sorted(channelID int64) []model.Message {
	var out []model.Message
	for _, m := range f.msgs {
		if m.ChannelID == channelID && !m.Deleted && !f.fencedLocked(m) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b model.Message) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (f *fakeStore) Before(_ context.Context, channelID, before int64, limit int) ([]model.Message, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	all := f.sorted(channelID)
	var out []model.Message
	for i := len(all) - 1; i >= 0; i-- {
		if before == 0 || all[i].ID < before {
			out = append(out, all[i])
		}
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (f *fakeStore) After(_ context.Context, channelID, after int64, limit int) ([]model.Message, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var out []model.Message
	for _, m := range f.sorted(channelID) {
		if m.ID > after {
			out = append(out, m)
		}
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

type allowAll struct{ denied map[int64]bool }

// ReadableChannelIDs is not known to this fake: a sync checks each channel.
func (allowAll) ReadableChannelIDs(context.Context, int64) ([]int64, error) {
	return nil, errors.New("not listed")
}

func (a allowAll) CanRead(_ context.Context, userID, channelID int64) (model.Channel, string, error) {
	if a.denied[userID] {
		return model.Channel{}, "", apperr.New(apperr.NotFound, "channel not found")
	}
	return model.Channel{ID: channelID, Kind: model.ChannelText, ServerID: 1}, model.RoleMember, nil
}

type recorder struct {
	mu      sync.Mutex
	created []model.Message
}

func (r *recorder) MessageCreated(m model.Message) {
	r.mu.Lock()
	r.created = append(r.created, m)
	r.mu.Unlock()
}
func (r *recorder) MessageUpdated(model.Message) {}
func (r *recorder) MessageDeleted(int64, int64)  {}

func newService(t *testing.T, store *fakeStore, cfg Config) (*Service, *recorder) {
	t.Helper()
	ids, _ := snowflake.New(1)
	rec := &recorder{}
	cfg.SendRate, cfg.SendBurst = time.Microsecond, 1_000_000
	s := New(store, allowAll{}, rec, nil, ids, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, rec
}

type result struct {
	msg model.Message
	err error
}

func send(t *testing.T, s *Service, user, channel int64, content, nonce string) chan result {
	t.Helper()
	ch := make(chan result, 1)
	if err := s.Send(context.Background(), Draft{UserID: user, ChannelID: channel, Content: content, Nonce: nonce}, func(m model.Message, err error) { ch <- result{m, err} }); err != nil {
		ch <- result{err: err}
	}
	return ch
}

func wait(t *testing.T, ch chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no answer within %v", d)
		return result{}
	}
}

func TestCountTriggerFlushesAFullBatchWithoutWaitingForTheTimer(t *testing.T) {
	store := newFakeStore()
	s, _ := newService(t, store, Config{FlushBatch: 4, FlushDelay: time.Hour})
	var acks []chan result
	for i := 0; i < 3; i++ {
		acks = append(acks, send(t, s, 1, 10, "hi", fmt.Sprint("n", i)))
	}
	select {
	case n := <-store.written:
		t.Fatalf("flushed %d messages before the batch was full", n)
	case <-time.After(50 * time.Millisecond):
	}
	acks = append(acks, send(t, s, 1, 10, "hi", "n3"))
	select {
	case n := <-store.written:
		if n != 4 {
			t.Fatalf("batch of %d, want 4", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a full batch was not flushed")
	}
	for _, a := range acks {
		if r := wait(t, a, time.Second); r.err != nil {
			t.Fatal(r.err)
		}
	}
}

func TestAgeTriggerFlushesAQuietChannel(t *testing.T) {
	store := newFakeStore()
	s, _ := newService(t, store, Config{FlushBatch: 1000, FlushDelay: 20 * time.Millisecond})
	start := time.Now()
	r := wait(t, send(t, s, 1, 10, "alone", "n1"), 2*time.Second)
	if r.err != nil || r.msg.Content != "alone" {
		t.Fatalf("ack: %+v", r)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Fatalf("flushed after %v, before the age trigger", took)
	}
}

func TestOrderAndDurabilityUnderConcurrentSenders(t *testing.T) {
	store := newFakeStore()
	s, rec := newService(t, store, Config{FlushBatch: 8, FlushDelay: 2 * time.Millisecond})
	var wg sync.WaitGroup
	const senders, each = 8, 100
	acked := make(chan model.Message, senders*each)
	for u := int64(1); u <= senders; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := wait(t, send(t, s, u, 10, fmt.Sprintf("%d-%d", u, i), fmt.Sprintf("u%d-%d", u, i)), 5*time.Second)
				if r.err != nil {
					t.Error(r.err)
					return
				}
				acked <- r.msg
			}
		}()
	}
	wg.Wait()
	close(acked)
	// Every acknowledged message is in the store; announcements came in strictly increasing id order.
	for m := range acked {
		if _, err := store.Get(context.Background(), 10, m.ID); err != nil {
			t.Fatalf("acked message %d not stored", m.ID)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.created) != senders*each {
		t.Fatalf("%d announcements, want %d", len(rec.created), senders*each)
	}
	for i := 1; i < len(rec.created); i++ {
		if rec.created[i].ID <= rec.created[i-1].ID {
			t.Fatalf("announcement %d out of order", i)
		}
	}
}

func TestRetriedNonceYieldsTheSameMessage(t *testing.T) {
	store := newFakeStore()
	s, rec := newService(t, store, Config{FlushBatch: 100, FlushDelay: 30 * time.Millisecond})
	a := send(t, s, 1, 10, "once", "same")
	b := send(t, s, 1, 10, "once", "same") // while the first is still queued
	ra, rb := wait(t, a, time.Second), wait(t, b, time.Second)
	if ra.err != nil || rb.err != nil || ra.msg.ID != rb.msg.ID {
		t.Fatalf("retry while queued: %+v / %+v", ra, rb)
	}
	rc := wait(t, send(t, s, 1, 10, "once", "same"), time.Second) // after it was stored
	if rc.msg.ID != ra.msg.ID {
		t.Fatalf("retry after store: %d vs %d", rc.msg.ID, ra.msg.ID)
	}
	other := wait(t, send(t, s, 2, 10, "once", "same"), time.Second) // the same nonce from someone else is new
	if other.msg.ID == ra.msg.ID {
		t.Fatal("nonces are not scoped by sender")
	}
	if len(store.msgs) != 2 || len(rec.created) != 2 {
		t.Fatalf("stored %d, announced %d; want 2 and 2", len(store.msgs), len(rec.created))
	}
}

func TestNonceStoredBeforeARestartIsFoundInTheStore(t *testing.T) {
	store := newFakeStore()
	first, _ := newService(t, store, Config{FlushDelay: time.Millisecond})
	orig := wait(t, send(t, first, 1, 10, "before restart", "n-restart"), time.Second)
	_ = first.Close(context.Background())

	second, rec := newService(t, store, Config{FlushDelay: time.Millisecond}) // empty memory, same store
	again := wait(t, send(t, second, 1, 10, "before restart", "n-restart"), time.Second)
	if again.err != nil || again.msg.ID != orig.msg.ID {
		t.Fatalf("after restart: %+v, want id %d", again, orig.msg.ID)
	}
	if len(store.msgs) != 1 || len(rec.created) != 0 {
		t.Fatalf("duplicate stored (%d) or announced (%d)", len(store.msgs), len(rec.created))
	}
}

func TestBackPressureWhileTheStoreIsDownThenRecovery(t *testing.T) {
	store := newFakeStore()
	store.setFailing(true)
	s, _ := newService(t, store, Config{FlushBatch: 2, FlushDelay: time.Millisecond, QueueLimit: 5})
	var acks []chan result
	for i := 0; i < 5; i++ {
		acks = append(acks, send(t, s, 1, int64(10+i%2), "x", fmt.Sprint("q", i)))
	}
	r := wait(t, send(t, s, 1, 10, "x", "overflow"), time.Second)
	if !apperr.Is(r.err, apperr.Unavailable) || !apperr.As(r.err).Retryable() {
		t.Fatalf("full queue answered %v, want a retryable unavailable", r.err)
	}
	if s.Queued() != 5 {
		t.Fatalf("queued %d", s.Queued())
	}
	for _, a := range acks {
		select {
		case r := <-a:
			t.Fatalf("acknowledged while the store is down: %+v", r)
		default:
		}
	}
	store.setFailing(false)
	for _, a := range acks {
		if r := wait(t, a, 10*time.Second); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if s.Queued() != 0 || len(store.msgs) != 5 {
		t.Fatalf("after recovery: queued %d, stored %d", s.Queued(), len(store.msgs))
	}
	if r := wait(t, send(t, s, 1, 10, "x", "overflow"), time.Second); r.err != nil {
		t.Fatalf("send after recovery: %v", r.err)
	}
}

func TestCloseStoresEverythingQueued(t *testing.T) {
	store := newFakeStore()
	s, _ := newService(t, store, Config{FlushBatch: 1000, FlushDelay: time.Hour})
	var acks []chan result
	for i := 0; i < 50; i++ {
		acks = append(acks, send(t, s, 1, int64(10+i%5), "bye", fmt.Sprint("c", i)))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		if r := wait(t, a, time.Second); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if len(store.msgs) != 50 {
		t.Fatalf("stored %d of 50", len(store.msgs))
	}
	if r := wait(t, send(t, s, 1, 10, "late", "late"), time.Second); !apperr.Is(r.err, apperr.Unavailable) {
		t.Fatalf("send after close: %v", r.err)
	}
}

// A flush timer that fires while Close runs must be waited for: Close returns only after every write it
// could race with has ended (the race detector flagged WaitGroup.Add racing Wait here, CI, session 8).
func TestCloseWaitsForAFlushATimerStartsMeanwhile(t *testing.T) {
	for i := range 200 {
		store := newFakeStore()
		s, _ := newService(t, store, Config{FlushBatch: 1000, FlushDelay: time.Duration(i%4) * 50 * time.Microsecond})
		a := send(t, s, 1, 10, "bye", "n")
		if i%2 == 1 {
			time.Sleep(time.Duration(i%7) * 20 * time.Microsecond)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		select { // answered by the time Close returns: no write still in flight
		case r := <-a:
			if r.err != nil {
				t.Fatal(r.err)
			}
		default:
			t.Fatalf("iteration %d: Close returned before the message was stored", i)
		}
	}
}

func TestCloseDeadlineNeverReportsFalseSuccess(t *testing.T) {
	store := newFakeStore()
	store.setFailing(true)
	s, _ := newService(t, store, Config{FlushDelay: time.Millisecond})
	a := send(t, s, 1, 10, "doomed", "d1")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Fatal("Close reported success with unwritten messages")
	}
	if r := wait(t, a, time.Second); !apperr.Is(r.err, apperr.Unavailable) {
		t.Fatalf("unwritten message answered %+v", r)
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	store := newFakeStore()
	ids, _ := snowflake.New(1)
	s := New(store, allowAll{denied: map[int64]bool{666: true}}, &recorder{}, nil, ids, Config{SendRate: time.Hour, SendBurst: 3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Close(context.Background())
	cases := []struct {
		user           int64
		content, nonce string
		kind           apperr.Kind
	}{
		{1, "   ", "n", apperr.Invalid},
		{1, string(make([]rune, 4001)), "n", apperr.Invalid},
		{1, "bell\a", "n", apperr.Invalid},
		{1, "bad \xff utf8", "n", apperr.Invalid},
		{1, "ok", "", apperr.Invalid},
		{1, "ok", "has space", apperr.Invalid},
		{666, "ok", "n", apperr.NotFound},
	}
	for _, c := range cases {
		err := s.Send(context.Background(), Draft{UserID: c.user, ChannelID: 10, Content: c.content, Nonce: c.nonce}, func(model.Message, error) {})
		if !apperr.Is(err, c.kind) {
			t.Errorf("%q/%q: %v, want %s", c.content, c.nonce, err, c.kind)
		}
	}
	for i := 0; i < 3; i++ {
		if err := s.Send(context.Background(), Draft{UserID: 2, ChannelID: 10, Content: "burst", Nonce: fmt.Sprint("b", i)}, func(model.Message, error) {}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Send(context.Background(), Draft{UserID: 2, ChannelID: 10, Content: "burst", Nonce: "b3"}, func(model.Message, error) {})
	if !apperr.Is(err, apperr.RateLimited) || apperr.As(err).RetryAfter <= 0 {
		t.Fatalf("4th message in a burst of 3: %v", err)
	}
	// Over the limit, a retry of an accepted nonce is still answered (with the message), not refused.
	answered := make(chan model.Message, 1)
	if err := s.Send(context.Background(), Draft{UserID: 2, ChannelID: 10, Content: "burst", Nonce: "b1"}, func(m model.Message, err error) {
		if err == nil {
			answered <- m
		}
	}); err != nil {
		t.Fatalf("retry of an accepted nonce over the rate limit: %v", err)
	}
	select {
	case m := <-answered:
		if m.Nonce != "b1" || m.ID == 0 {
			t.Fatalf("retry answered with %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retry of an accepted nonce never answered")
	}
	// Files: refused where no file service is configured, and in encrypted messages (they would be stored in the clear).
	for _, d := range []Draft{
		{UserID: 3, ChannelID: 10, Content: "", Nonce: "f1", Attachments: []int64{7}},
		{UserID: 3, ChannelID: 10, Content: "aGk=", Nonce: "f2", Attachments: []int64{7}, Encrypted: true},
	} {
		if err := s.Send(context.Background(), d, func(model.Message, error) {}); !apperr.Is(err, apperr.Invalid) || apperr.As(err).Field != "attachments" {
			t.Errorf("%+v: %v, want invalid attachments", d, err)
		}
	}
	if got, err := cleanContent("  line one\n\tline two  "); err != nil || got != "line one\n\tline two" {
		t.Fatalf("cleanContent: %q %v", got, err)
	}
}

func TestHistoryServesTheWindowAndFallsBackToTheStore(t *testing.T) {
	store := newFakeStore()
	s, _ := newService(t, store, Config{FlushBatch: 1, FlushDelay: time.Millisecond, WindowSize: 100})
	var ids []int64
	for i := 0; i < 150; i++ {
		r := wait(t, send(t, s, 1, 10, fmt.Sprint(i), fmt.Sprint("h", i)), time.Second)
		ids = append(ids, r.msg.ID)
	}
	ctx := context.Background()
	// The first read of a channel loads the window; the next newest page comes from memory.
	if _, err := s.History(ctx, 1, 10, Query{Limit: 50}); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	calls := store.calls
	store.mu.Unlock()
	p, err := s.History(ctx, 1, 10, Query{Limit: 50})
	if err != nil || len(p.Messages) != 50 || p.Messages[0].ID != ids[149] || !p.HasMore {
		t.Fatalf("newest page: %d msgs, more=%v, err=%v", len(p.Messages), p.HasMore, err)
	}
	store.mu.Lock()
	if store.calls != calls {
		t.Fatal("newest page did not come from memory")
	}
	store.mu.Unlock()
	// A page reaching past the window continues from the store without gaps.
	p, _ = s.History(ctx, 1, 10, Query{Before: ids[120], Limit: 100})
	if len(p.Messages) != 100 || p.Messages[0].ID != ids[119] || p.Messages[99].ID != ids[20] || !p.HasMore {
		t.Fatalf("deep page: %d msgs", len(p.Messages))
	}
	p, _ = s.History(ctx, 1, 10, Query{After: ids[140], Limit: 100})
	if len(p.Messages) != 9 || p.Messages[0].ID != ids[141] || p.HasMore {
		t.Fatalf("after: %d msgs more=%v", len(p.Messages), p.HasMore)
	}
	p, _ = s.History(ctx, 1, 10, Query{Around: ids[10], Limit: 5})
	if len(p.Messages) != 5 || p.Messages[2].ID != ids[10] {
		t.Fatalf("around: %+v", p.Messages)
	}
	if _, err := s.History(ctx, 1, 10, Query{Before: 5, After: 3}); !apperr.Is(err, apperr.Invalid) {
		t.Fatal("two cursors accepted")
	}
	if _, err := s.History(ctx, 1, 10, Query{Limit: 101}); !apperr.Is(err, apperr.Invalid) {
		t.Fatal("limit 101 accepted")
	}
	// Edits show in history; deleted messages disappear from it.
	if _, err := s.Edit(ctx, 1, 10, ids[149], "edited", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 1, 10, ids[148]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, 2, 10, ids[147], "not mine", false); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("edit of another's message: %v", err)
	}
	p, _ = s.History(ctx, 1, 10, Query{Limit: 2})
	if p.Messages[0].Content != "edited" || p.Messages[0].EditedAt == nil || p.Messages[1].ID != ids[147] {
		t.Fatalf("after edit+delete: %+v", p.Messages)
	}
	res, err := s.Sync(ctx, 1, map[int64]int64{10: ids[145]})
	if err != nil || len(res[10].Messages) != 3 {
		t.Fatalf("sync: %+v %v", res, err)
	}
}

func TestRetryHorizonIsLoadedOnceAndIsBoundedByAgeAndCount(t *testing.T) {
	store := newFakeStore()
	now := time.Now()
	// Stored before this process started: one message 20 minutes old (outside the 10-minute horizon) and
	// five recent ones, of which the horizon keeps the newest three (RetryMessages: 3).
	old := model.Message{ID: snowflake.FirstIDAt(now.Add(-20 * time.Minute)), ChannelID: 10, SenderID: 1, Content: "old", Nonce: "old"}
	store.msgs[old.ID] = old
	for i := 0; i < 5; i++ {
		m := model.Message{ID: snowflake.FirstIDAt(now.Add(time.Duration(i-10) * time.Second)), ChannelID: 10, SenderID: 1, Content: fmt.Sprint("r", i), Nonce: fmt.Sprint("r", i)}
		store.msgs[m.ID] = m
	}
	s, rec := newService(t, store, Config{FlushDelay: time.Millisecond, RetryMessages: 3})
	for i := 2; i < 5; i++ { // inside the horizon: the stored message comes back, nothing new is stored
		nonce := fmt.Sprint("r", i)
		r := wait(t, send(t, s, 1, 10, nonce, nonce), time.Second)
		if r.err != nil || r.msg.Nonce != nonce || r.msg.ID != snowflake.FirstIDAt(now.Add(time.Duration(i-10)*time.Second)) {
			t.Fatalf("retry of %s: %+v", nonce, r)
		}
	}
	// Outside the horizon (too old, or beyond the newest three): accepted as new messages, as documented.
	for _, nonce := range []string{"old", "r0"} {
		if r := wait(t, send(t, s, 1, 10, nonce, nonce), time.Second); r.err != nil || r.msg.ID == old.ID {
			t.Fatalf("send of %s: %+v", nonce, r)
		}
	}
	if len(rec.created) != 2 || len(store.msgs) != 8 {
		t.Fatalf("announced %d, stored %d; want 2 and 8", len(rec.created), len(store.msgs))
	}
	if store.nonceReads != 1 {
		t.Fatalf("the horizon was read %d times, want once per activation", store.nonceReads)
	}
	// Every flush is one write: the batches hold only the two new messages.
	for _, b := range store.batches {
		for _, m := range b {
			if m.Nonce != "old" && m.Nonce != "r0" {
				t.Fatalf("stored again: %+v", m)
			}
		}
	}
}

func TestRetryOfADeletedMessageDoesNotBringItBack(t *testing.T) {
	store := newFakeStore()
	s, rec := newService(t, store, Config{FlushDelay: time.Millisecond})
	orig := wait(t, send(t, s, 1, 10, "gone soon", "del-1"), time.Second)
	if err := s.Delete(context.Background(), 1, 10, orig.msg.ID); err != nil {
		t.Fatal(err)
	}
	r := wait(t, send(t, s, 1, 10, "gone soon", "del-1"), time.Second)
	if r.err != nil || r.msg.ID != orig.msg.ID || !r.msg.Deleted {
		t.Fatalf("retry of a deleted message: %+v", r)
	}
	if len(store.msgs) != 1 || len(rec.created) != 1 {
		t.Fatalf("stored %d, announced %d", len(store.msgs), len(rec.created))
	}
}

func TestNonceHorizonLoadFailureIsRetriedLikeAWrite(t *testing.T) {
	store := newFakeStore()
	store.setFailing(true)
	s, _ := newService(t, store, Config{FlushDelay: time.Millisecond})
	ch := send(t, s, 1, 10, "waits for cassandra", "h-1")
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-ch:
		t.Fatalf("answered while cassandra is down: %+v", r)
	default:
	}
	store.setFailing(false)
	if r := wait(t, ch, 5*time.Second); r.err != nil || len(store.msgs) != 1 {
		t.Fatalf("after recovery: %+v, stored %d", r, len(store.msgs))
	}
}

// countingAccess lets user 1 read channels 1-3 and counts the checks.
type countingAccess struct {
	mu          sync.Mutex
	perChannel  int
	listQueries int
}

func (a *countingAccess) CanRead(_ context.Context, _, channelID int64) (model.Channel, string, error) {
	a.mu.Lock()
	a.perChannel++
	a.mu.Unlock()
	if channelID > 3 {
		return model.Channel{}, "", apperr.New(apperr.NotFound, "channel not found")
	}
	return model.Channel{ID: channelID, Kind: model.ChannelText, ServerID: 1}, model.RoleMember, nil
}

func (a *countingAccess) ReadableChannelIDs(context.Context, int64) ([]int64, error) {
	a.mu.Lock()
	a.listQueries++
	a.mu.Unlock()
	return []int64{1, 2, 3}, nil
}

// A sync naming hundreds of channels costs one list query plus the readable ones, not a check per name
// (#22 finding 2: 500 names per sync made 500 Postgres lookups).
func TestSyncOfManyChannelsChecksTheListOnce(t *testing.T) {
	access := &countingAccess{}
	ids, _ := snowflake.New(1)
	s := New(newFakeStore(), access, &recorder{}, nil, ids, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	since := map[int64]int64{}
	for id := int64(1); id <= 500; id++ {
		since[id] = 0
	}
	res, err := s.Sync(context.Background(), 1, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || access.listQueries != 1 || access.perChannel != 3 {
		t.Fatalf("%d channels synced with %d list queries and %d channel checks; want 3, 1, 3", len(res), access.listQueries, access.perChannel)
	}
	// A few channels are checked one by one (no list query).
	if _, err := s.Sync(context.Background(), 1, map[int64]int64{1: 0, 4: 0}); err != nil || access.listQueries != 1 {
		t.Fatalf("small sync: %v, %d list queries", err, access.listQueries)
	}
}
