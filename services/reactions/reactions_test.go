package reactions

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// memStore is the store's semantics in memory: one entry per (message, user, emoji).
type memStore struct {
	mu      sync.Mutex
	rows    map[[2]int64]map[string]time.Time // (message, user) → emoji → added at
	chans   map[int64]int64
	applies [][]model.ReactionChange
	reads   int
	fail    error
	block   chan struct{} // if set, Apply waits for it
}

func newMemStore() *memStore {
	return &memStore{rows: map[[2]int64]map[string]time.Time{}, chans: map[int64]int64{}}
}

func (m *memStore) Apply(_ context.Context, cs []model.ReactionChange) error {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies = append(m.applies, slices.Clone(cs))
	if m.fail != nil {
		return m.fail
	}
	for _, c := range cs {
		k := [2]int64{c.MessageID, c.UserID}
		if c.Add {
			if m.rows[k] == nil {
				m.rows[k] = map[string]time.Time{}
			}
			if _, ok := m.rows[k][c.Emoji]; !ok {
				m.rows[k][c.Emoji] = c.At
			}
			m.chans[c.MessageID] = c.ChannelID
		} else {
			delete(m.rows[k], c.Emoji)
		}
	}
	return nil
}

func (m *memStore) ForMessages(_ context.Context, ids []int64) ([]model.Reaction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return nil, m.fail
	}
	type row struct {
		user  int64
		emoji string
		at    time.Time
	}
	var out []model.Reaction
	for _, id := range ids {
		var rows []row
		for k, es := range m.rows {
			if k[0] == id {
				for e, at := range es {
					rows = append(rows, row{k[1], e, at})
				}
			}
		}
		slices.SortFunc(rows, func(a, b row) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return int(a.user - b.user)
		})
		for _, r := range rows {
			i := slices.IndexFunc(out, func(x model.Reaction) bool { return x.MessageID == id && x.Emoji == r.emoji })
			if i < 0 {
				out = append(out, model.Reaction{ChannelID: m.chans[id], MessageID: id, Emoji: r.emoji})
				i = len(out) - 1
			}
			out[i].UserIDs = append(out[i].UserIDs, r.user)
		}
	}
	return out, nil
}

func (m *memStore) Users(_ context.Context, msg int64, emoji string, after int64, limit int) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []int64
	for k, es := range m.rows {
		if _, ok := es[emoji]; ok && k[0] == msg && k[1] > after {
			out = append(out, k[1])
		}
	}
	slices.Sort(out)
	return out[:min(len(out), limit)], nil
}

func (m *memStore) applied() [][]model.ReactionChange {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.applies)
}

type fakeAccess struct{ outsiders map[int64]bool }

func (a fakeAccess) CanRead(_ context.Context, userID, channelID int64) (model.Channel, string, error) {
	if a.outsiders[userID] {
		return model.Channel{}, "", apperr.New(apperr.NotFound, "channel not found")
	}
	return model.Channel{ID: channelID}, "member", nil
}

type fakeMessages struct{ gone map[int64]bool }

func (f fakeMessages) Message(_ context.Context, channelID, messageID int64) (model.Message, error) {
	if f.gone[messageID] {
		return model.Message{}, apperr.New(apperr.NotFound, "message not found")
	}
	return model.Message{ID: messageID, ChannelID: channelID}, nil
}

type recorder struct {
	mu  sync.Mutex
	ups []Update
}

func (r *recorder) ReactionChanged(u Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ups = append(r.ups, u)
}

func (r *recorder) all() []Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ups)
}

type fixture struct {
	svc   *Service
	store *memStore
	rec   *recorder
	ctx   context.Context
}

const (
	ch  = int64(10)
	msg = int64(500)
)

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	if cfg.WriteInterval == 0 {
		cfg.WriteInterval = time.Hour // tests flush by hand
	}
	if cfg.Burst == 0 {
		cfg.Burst = 1000
	}
	f := &fixture{store: newMemStore(), rec: &recorder{}, ctx: context.Background()}
	f.svc = New(f.store, fakeAccess{outsiders: map[int64]bool{99: true}}, fakeMessages{gone: map[int64]bool{666: true}}, f.rec, cfg,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		f.store.mu.Lock()
		f.store.fail = nil // a test that failed half-way must not leave Close retrying forever
		f.store.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.svc.Close(ctx)
	})
	return f
}

func (f *fixture) add(t *testing.T, user int64, emoji string) Summary {
	t.Helper()
	s, err := f.svc.Add(f.ctx, user, ch, msg, emoji)
	if err != nil {
		t.Fatalf("add %d %s: %v", user, emoji, err)
	}
	return s
}

func (f *fixture) remove(t *testing.T, user int64, emoji string) Summary {
	t.Helper()
	s, err := f.svc.Remove(f.ctx, user, ch, msg, emoji)
	if err != nil {
		t.Fatalf("remove %d %s: %v", user, emoji, err)
	}
	return s
}

func (f *fixture) view(t *testing.T, viewer int64) []Summary {
	t.Helper()
	got, err := f.svc.ForMessages(f.ctx, viewer, ch, []int64{msg, 501})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[501]) != 0 {
		t.Fatalf("message 501 has reactions: %+v", got[501])
	}
	return got[msg]
}

func TestAddRemoveCountsAndAnnounces(t *testing.T) {
	f := newFixture(t, Config{})
	if s := f.add(t, 1, "👍"); s.Count != 1 || !s.Me || !slices.Equal(s.UserIDs, []int64{1}) {
		t.Fatalf("first add: %+v", s)
	}
	if s := f.add(t, 2, "👍"); s.Count != 2 || !s.Me || !slices.Equal(s.UserIDs, []int64{1, 2}) {
		t.Fatalf("second add: %+v", s)
	}
	f.add(t, 2, "🎉")
	// Idempotent: adding again, or removing what is not there, changes and announces nothing.
	if s := f.add(t, 1, "👍"); s.Count != 2 || !s.Me {
		t.Fatalf("repeated add: %+v", s)
	}
	if s := f.remove(t, 3, "👍"); s.Count != 2 || s.Me {
		t.Fatalf("removing an absent reaction: %+v", s)
	}
	if s := f.remove(t, 3, "🚀"); s.Count != 0 || s.Emoji != "🚀" {
		t.Fatalf("removing an absent emoji: %+v", s)
	}
	if s := f.remove(t, 1, "👍"); s.Count != 1 || s.Me || !slices.Equal(s.UserIDs, []int64{2}) {
		t.Fatalf("remove: %+v", s)
	}
	want := []Update{
		{ChannelID: ch, MessageID: msg, Emoji: "👍", Count: 1, UserID: 1, Added: true, UserIDs: []int64{1}},
		{ChannelID: ch, MessageID: msg, Emoji: "👍", Count: 2, UserID: 2, Added: true, UserIDs: []int64{1, 2}},
		{ChannelID: ch, MessageID: msg, Emoji: "🎉", Count: 1, UserID: 2, Added: true, UserIDs: []int64{2}},
		{ChannelID: ch, MessageID: msg, Emoji: "👍", Count: 1, UserID: 1, Added: false, UserIDs: []int64{2}},
	}
	if got := f.rec.all(); !slices.EqualFunc(got, want, updateEqual) {
		t.Fatalf("announced %+v\nwant %+v", got, want)
	}
	// User 2 sees both, in first-use order, as theirs; user 1 sees neither as theirs.
	v := f.view(t, 2)
	if len(v) != 2 || v[0].Emoji != "👍" || v[0].Count != 1 || !v[0].Me || v[1].Emoji != "🎉" || !v[1].Me {
		t.Fatalf("view of 2: %+v", v)
	}
	if v := f.view(t, 1); v[0].Me || v[1].Me {
		t.Fatalf("view of 1: %+v", v)
	}
}

func updateEqual(a, b Update) bool {
	return a.ChannelID == b.ChannelID && a.MessageID == b.MessageID && a.Emoji == b.Emoji && a.Count == b.Count &&
		a.UserID == b.UserID && a.Added == b.Added && slices.Equal(a.UserIDs, b.UserIDs)
}

// Many toggles within one interval become one write per (message, user, emoji), with the final state; reads
// before and after the write agree.
func TestWritesAreCoalesced(t *testing.T) {
	f := newFixture(t, Config{})
	for i := 0; i < 5; i++ {
		f.add(t, 1, "👍")
		f.remove(t, 1, "👍")
	}
	f.add(t, 1, "👍")
	f.add(t, 2, "👍")
	f.add(t, 3, "❤️")
	f.remove(t, 3, "❤️")
	if n := len(f.store.applied()); n != 0 {
		t.Fatalf("%d writes before the interval ended", n)
	}
	before := f.view(t, 1)
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	applies := f.store.applied()
	if len(applies) != 1 || len(applies[0]) != 3 {
		t.Fatalf("writes: %+v; want one batch of 3 changes", applies)
	}
	adds := 0
	for _, c := range applies[0] {
		if c.Add {
			adds++
		}
	}
	if adds != 2 {
		t.Fatalf("batch %+v: want 2 adds and 1 removal", applies[0])
	}
	after := f.view(t, 1)
	if len(before) != 1 || len(after) != 1 || before[0].Count != 2 || after[0].Count != 2 || !slices.Equal(before[0].UserIDs, after[0].UserIDs) {
		t.Fatalf("before the write %+v, after %+v", before, after)
	}
	// Nothing pending: the next flush writes nothing.
	if err := f.svc.Flush(f.ctx); err != nil || len(f.store.applied()) != 1 {
		t.Fatalf("empty flush wrote: %v %d", err, len(f.store.applied()))
	}
	// A fresh service on the same store (a restart, another node) reads the same state.
	other := New(f.store, fakeAccess{}, fakeMessages{}, &recorder{}, Config{WriteInterval: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer other.Close(f.ctx)
	got, err := other.ForMessages(f.ctx, 2, ch, []int64{msg})
	if err != nil || len(got[msg]) != 1 || got[msg][0].Count != 2 || !got[msg][0].Me {
		t.Fatalf("another node reads %+v, %v", got, err)
	}
}

func TestTheWriterFlushesOnItsOwnAndOnClose(t *testing.T) {
	f := newFixture(t, Config{WriteInterval: 20 * time.Millisecond})
	f.add(t, 1, "👍")
	deadline := time.Now().Add(5 * time.Second)
	for len(f.store.applied()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the periodic writer never wrote")
		}
		time.Sleep(5 * time.Millisecond)
	}
	g := newFixture(t, Config{})
	g.add(t, 1, "👍")
	g.svc.Close(context.Background())
	if a := g.store.applied(); len(a) != 1 || len(a[0]) != 1 {
		t.Fatalf("Close wrote %+v", a)
	}
	g.svc.Close(context.Background()) // twice is fine
}

func TestFailedWritesAreRetriedWithoutUndoingNewerChanges(t *testing.T) {
	f := newFixture(t, Config{})
	f.add(t, 1, "👍")
	f.add(t, 2, "👍")
	f.store.mu.Lock()
	f.store.fail = errors.New("mongo down")
	f.store.mu.Unlock()
	f.store.block = make(chan struct{})
	done := make(chan error)
	go func() { done <- f.svc.Flush(f.ctx) }()
	time.Sleep(20 * time.Millisecond)
	f.remove(t, 2, "👍") // while the batch is being written: newer than it, must win over its retry
	close(f.store.block)
	if err := <-done; err == nil {
		t.Fatal("flush succeeded against a failing store")
	}
	f.store.block = nil
	if f.svc.Pending() != 1 {
		t.Fatalf("pending after a failure: %d", f.svc.Pending())
	}
	f.store.mu.Lock()
	f.store.fail = nil
	f.store.mu.Unlock()
	if v := f.view(t, 1); len(v) != 1 || !slices.Equal(v[0].UserIDs, []int64{1}) {
		t.Fatalf("view after the failure: %+v", v)
	}
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	other := New(f.store, fakeAccess{}, fakeMessages{}, &recorder{}, Config{WriteInterval: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer other.Close(f.ctx)
	got, _ := other.ForMessages(f.ctx, 1, ch, []int64{msg})
	if len(got[msg]) != 1 || !slices.Equal(got[msg][0].UserIDs, []int64{1}) {
		t.Fatalf("stored after the retry: %+v", got[msg])
	}
}

// Close keeps retrying a failing store until its context ends.
func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	f := newFixture(t, Config{})
	f.add(t, 1, "👍")
	f.store.mu.Lock()
	f.store.fail = errors.New("mongo down")
	f.store.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	f.svc.Close(ctx)
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Close returned after %v", d)
	}
	if n := len(f.store.applied()); n < 2 {
		t.Fatalf("Close tried %d times", n)
	}
	f.store.mu.Lock()
	f.store.fail = nil
	f.store.mu.Unlock()
}

// A read of the store that overlaps a write must not hide the written changes once they stop being pending.
func TestReadOverlappingAWriteSeesIt(t *testing.T) {
	f := newFixture(t, Config{})
	f.add(t, 1, "👍")
	f.svc.mu.Lock()
	f.svc.snaps = map[int64]*snapshot{} // forget what was read
	f.svc.mu.Unlock()
	f.store.block = make(chan struct{})
	release := sync.OnceFunc(func() { close(f.store.block) })
	defer release() // a failure below must not leave the flush (and Close) blocked
	done := make(chan error)
	go func() { done <- f.svc.Flush(f.ctx) }()
	// The flush is blocked before writing: the change is in flight, the store has nothing yet.
	time.Sleep(20 * time.Millisecond)
	if v := f.view(t, 1); len(v) != 1 || v[0].Count != 1 {
		t.Fatalf("while writing: %+v", v)
	}
	f.svc.mu.Lock()
	f.svc.snaps = map[int64]*snapshot{} // the read above cached the store without the change: drop it again
	f.svc.mu.Unlock()
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := f.view(t, 1); len(v) != 1 || v[0].Count != 1 {
		t.Fatalf("after writing: %+v", v)
	}
	// The cached copy of the store was updated by the write: no stale snapshot survives it.
	f.svc.mu.Lock()
	sn := f.svc.snaps[msg]
	f.svc.mu.Unlock()
	if sn == nil || len(sn.reactions) != 1 {
		t.Fatalf("snapshot after the write: %+v", sn)
	}
}

func TestStaleReadIsRetried(t *testing.T) {
	f := newFixture(t, Config{})
	f.add(t, 1, "👍")
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	// Simulate a batch landing during every read: gen moves while the store is read; after the retries the
	// service uses what it read.
	f.svc.mu.Lock()
	f.svc.snaps = map[int64]*snapshot{}
	f.svc.mu.Unlock()
	st := &genBumpingStore{memStore: f.store, svc: f.svc}
	f.svc.store = st
	if v := f.view(t, 1); len(v) != 1 || v[0].Count != 1 {
		t.Fatalf("view: %+v", v)
	}
	if st.reads != 3 {
		t.Fatalf("store read %d times, want 3 (two retries)", st.reads)
	}
}

type genBumpingStore struct {
	*memStore
	svc   *Service
	reads int
}

func (g *genBumpingStore) ForMessages(ctx context.Context, ids []int64) ([]model.Reaction, error) {
	g.reads++
	g.svc.mu.Lock()
	g.svc.gen++
	g.svc.mu.Unlock()
	return g.memStore.ForMessages(ctx, ids)
}

func TestStoredReactionsAreCachedThenReread(t *testing.T) {
	f := newFixture(t, Config{CacheTTL: time.Minute})
	now := time.Now()
	f.svc.now = func() time.Time { return now }
	f.view(t, 1)
	f.view(t, 1)
	f.add(t, 1, "👍")
	if f.store.reads != 1 {
		t.Fatalf("store read %d times, want once (then memory)", f.store.reads)
	}
	now = now.Add(2 * time.Minute)
	f.svc.sweep()
	f.svc.mu.Lock()
	n := len(f.svc.snaps)
	f.svc.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d snapshots survived the sweep", n)
	}
	if v := f.view(t, 1); len(v) != 1 || f.store.reads != 2 {
		t.Fatalf("after expiry: %+v, %d reads", v, f.store.reads)
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t, Config{MaxEmoji: 3})
	for _, e := range []string{"👍", "🎉", "❤️"} {
		f.add(t, 1, e)
	}
	_, err := f.svc.Add(f.ctx, 2, ch, msg, "🚀")
	if !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.As(err).Message, "3 different") {
		t.Fatalf("a 4th emoji: %v", err)
	}
	if s := f.add(t, 2, "🎉"); s.Count != 2 { // an emoji already there is fine
		t.Fatalf("existing emoji: %+v", s)
	}
	f.remove(t, 1, "❤️")
	f.add(t, 2, "🚀") // room again

	// Rate: a burst, then refused with a wait.
	g := newFixture(t, Config{Burst: 3, Rate: time.Minute})
	for i := 0; i < 3; i++ {
		f := g
		if _, err := f.svc.Add(f.ctx, 1, ch, msg, "👍"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = g.svc.Remove(g.ctx, 1, ch, msg, "👍")
	if e := apperr.As(err); e.Kind != apperr.RateLimited || e.RetryAfter <= 0 {
		t.Fatalf("over the rate: %v", err)
	}
	if _, err := g.svc.Add(g.ctx, 2, ch, msg, "👍"); err != nil {
		t.Fatalf("another user is limited too: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, Config{})
	cases := []struct {
		name  string
		user  int64
		msgID int64
		emoji string
		kind  apperr.Kind
	}{
		{"outsider", 99, msg, "👍", apperr.NotFound},
		{"deleted message", 1, 666, "👍", apperr.NotFound},
		{"text", 1, msg, "lol", apperr.Invalid},
		{"shortcode", 1, msg, ":thumbsup:", apperr.Invalid},
		{"two emoji", 1, msg, "👍👍", apperr.Invalid},
		{"empty", 1, msg, "", apperr.Invalid},
	}
	for _, c := range cases {
		if _, err := f.svc.Add(f.ctx, c.user, ch, c.msgID, c.emoji); !apperr.Is(err, c.kind) {
			t.Errorf("%s: add = %v, want %s", c.name, err, c.kind)
		}
		if _, _, err := f.svc.Users(f.ctx, c.user, ch, c.msgID, c.emoji, 0, 10); !apperr.Is(err, c.kind) {
			t.Errorf("%s: users = %v, want %s", c.name, err, c.kind)
		}
	}
	if _, err := f.svc.ForMessages(f.ctx, 99, ch, []int64{msg}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("outsider reading reactions: %v", err)
	}
	if got, err := f.svc.ForMessages(f.ctx, 99, ch, nil); err != nil || len(got) != 0 {
		t.Errorf("no messages: %v %v", got, err)
	}
	if n := len(f.rec.all()); n != 0 {
		t.Fatalf("%d announcements for refused changes", n)
	}
	f.store.mu.Lock()
	f.store.fail = errors.New("mongo down")
	f.store.mu.Unlock()
	defer func() { f.store.mu.Lock(); f.store.fail = nil; f.store.mu.Unlock() }()
	if _, err := f.svc.Add(f.ctx, 1, ch, msg, "👍"); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("store down: %v", err)
	}
	if _, _, err := f.svc.Users(f.ctx, 1, ch, msg, "👍", 0, 10); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("store down, users: %v", err)
	}
}

func TestUsersPagesMergePending(t *testing.T) {
	f := newFixture(t, Config{})
	for u := int64(1); u <= 6; u++ {
		f.add(t, u, "👍")
	}
	f.add(t, 7, "🎉")
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.remove(t, 2, "👍") // pending removal
	f.remove(t, 3, "👍")
	f.add(t, 9, "👍") // pending addition
	var all []int64
	after := int64(0)
	for page := 0; ; page++ {
		ids, more, err := f.svc.Users(f.ctx, 1, ch, msg, "👍", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 2 || page > 5 {
			t.Fatalf("page %d: %v", page, ids)
		}
		all = append(all, ids...)
		if !more {
			break
		}
		after = ids[len(ids)-1]
	}
	if !slices.Equal(all, []int64{1, 4, 5, 6, 9}) {
		t.Fatalf("who reacted: %v", all)
	}
	ids, more, err := f.svc.Users(f.ctx, 1, ch, msg, "👍", 0, 0) // limit out of range → 100
	if err != nil || more || len(ids) != 5 {
		t.Fatalf("default limit: %v %v %v", ids, more, err)
	}
}

func TestPreviewIsCapped(t *testing.T) {
	f := newFixture(t, Config{PreviewUsers: 3})
	for u := int64(1); u <= 5; u++ {
		f.add(t, u, "👍")
	}
	v := f.view(t, 5)
	if v[0].Count != 5 || !v[0].Me || !slices.Equal(v[0].UserIDs, []int64{1, 2, 3}) {
		t.Fatalf("view: %+v", v)
	}
	ups := f.rec.all()
	if last := ups[len(ups)-1]; last.Count != 5 || !slices.Equal(last.UserIDs, []int64{1, 2, 3}) {
		t.Fatalf("last update: %+v", last)
	}
}

func TestConcurrentToggles(t *testing.T) {
	f := newFixture(t, Config{})
	var wg sync.WaitGroup
	for u := int64(1); u <= 8; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := f.svc.Add(f.ctx, u, ch, msg, "👍"); err != nil {
					t.Error(err)
				}
				if i%5 == 0 {
					_ = f.svc.Flush(f.ctx)
				}
				if u%2 == 0 {
					if _, err := f.svc.Remove(f.ctx, u, ch, msg, "👍"); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	if v := f.view(t, 1); len(v) != 1 || v[0].Count != 4 {
		t.Fatalf("after concurrent toggles: %+v", v)
	}
}

func TestValidEmoji(t *testing.T) {
	good := []string{"👍", "👍🏽", "❤️", "❤", "🇫🇷", "1️⃣", "#⃣", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "©️", "⭐", "☕", "🫠", "🧑🏽‍💻", "↔️"}
	bad := []string{"", "a", "lol", ":thumbsup:", "👍 ", " 👍", "🇫", "🇫🇷🇩🇪", "🇫👍", "1", "12⃣", "\u200d👍", "👍\u200d", "👍\u200d\u200d👍",
		"\ufe0f", "🏽", "<script>", "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍", string([]byte{0xff}), "１", "\u202e👍"}
	for _, s := range good {
		if !ValidEmoji(s) {
			t.Errorf("ValidEmoji(%q) = false", s)
		}
	}
	for _, s := range bad {
		if ValidEmoji(s) {
			t.Errorf("ValidEmoji(%q) = true", s)
		}
	}
}

// slowReadStore returns, for its first read, what the store held before a write that lands during the read.
type slowReadStore struct {
	*memStore
	once    sync.Once
	reading chan struct{} // closed when the first read has taken its (soon stale) copy
	proceed chan struct{} // the first read returns once this is closed
}

func (s *slowReadStore) ForMessages(ctx context.Context, ids []int64) ([]model.Reaction, error) {
	rs, err := s.memStore.ForMessages(ctx, ids)
	s.once.Do(func() {
		close(s.reading)
		<-s.proceed
	})
	return rs, err
}

func TestWriteLandingDuringAReadIsNotLost(t *testing.T) {
	f := newFixture(t, Config{})
	f.add(t, 1, "👍")
	f.svc.mu.Lock()
	f.svc.snaps = map[int64]*snapshot{}
	f.svc.mu.Unlock()
	slow := &slowReadStore{memStore: f.store, reading: make(chan struct{}), proceed: make(chan struct{})}
	f.svc.store = slow
	got := make(chan []Summary)
	go func() {
		r, _ := f.svc.ForMessages(f.ctx, 1, ch, []int64{msg})
		got <- r[msg]
	}()
	<-slow.reading // the read holds the store without the reaction
	if err := f.svc.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	close(slow.proceed)
	if v := <-got; len(v) != 1 || v[0].Count != 1 {
		t.Fatalf("read overlapping the write: %+v", v)
	}
	if v := f.view(t, 1); len(v) != 1 || v[0].Count != 1 {
		t.Fatalf("later read (cached): %+v", v)
	}
}

// blockGate refuses writes by the listed users (a 1:1 DM with a block in it).
type blockGate struct{ refused map[int64]bool }

func (g blockGate) CanSend(_ context.Context, userID int64, _ model.Channel) error {
	if g.refused[userID] {
		return apperr.New(apperr.Forbidden, "you blocked this user")
	}
	return nil
}

func TestGateRefusesAddingButNotRemovingOrListing(t *testing.T) {
	gate := blockGate{refused: map[int64]bool{}}
	f := newFixture(t, Config{Gate: gate})
	f.add(t, 1, "👍")
	gate.refused[1] = true // the block starts after the reaction was added
	if _, err := f.svc.Add(f.ctx, 1, ch, msg, "🎉"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("add through a closed gate: err %v, want forbidden", err)
	}
	if users, _, err := f.svc.Users(f.ctx, 1, ch, msg, "👍", 0, 10); err != nil || len(users) != 1 {
		t.Fatalf("listing through a closed gate: %v %v", users, err)
	}
	if s := f.remove(t, 1, "👍"); s.Count != 0 {
		t.Fatalf("removing my reaction through a closed gate: %+v", s)
	}
	if n := len(f.rec.all()); n != 2 {
		t.Fatalf("%d announcements, want 2 (add, remove): the refused add must announce nothing", n)
	}
}
