package search

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		q    string
		want Parsed
	}{
		{"hello world", Parsed{Terms: "hello world"}},
		{`from:@Alice "brown fox" quick`, Parsed{Terms: "quick", Phrases: []string{"brown fox"}, From: []string{"Alice"}}},
		{`in:#general in:random has:link HAS:FILE mentions:bob`, Parsed{In: []string{"general", "random"}, HasLink: true, HasFile: true, Mentions: []string{"bob"}}},
		{`before:2026-01-02 after:2025 during:2025-12 x`, Parsed{Terms: "x", Before: "2026-01-02", After: "2025", During: "2025-12"}},
		{`meet at 10:30 https://example.com/a:b`, Parsed{Terms: "meet at 10:30 https://example.com/a:b"}},
		{`from:"bob" "unclosed phrase`, Parsed{From: []string{"bob"}, Phrases: []string{"unclosed phrase"}}},
		{`on:2026-01-02 ""`, Parsed{During: "2026-01-02"}},
	} {
		got, err := Parse(c.q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.q, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("Parse(%q) = %+v, want %+v", c.q, got, c.want)
		}
	}
	for _, bad := range []string{"", "   ", `""`, "from:", "has:pdf", strings.Repeat("a", MaxQueryLength+1), "\xff"} {
		if _, err := Parse(bad); apperr.As(err).Kind != apperr.Invalid {
			t.Fatalf("Parse(%q): %v, want invalid", bad, err)
		}
	}
}

func TestDates(t *testing.T) {
	p, _ := Parse("x before:2026-03-02 after:2026-02-27")
	after, before, err := p.dates(-5 * time.Hour) // UTC-5: the searcher's days
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 2, 28, 5, 0, 0, 0, time.UTC); !after.Equal(want) {
		t.Fatalf("after = %v, want %v (the end of the 27th, their time)", after.UTC(), want)
	}
	if want := time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC); !before.Equal(want) {
		t.Fatalf("before = %v, want %v", before.UTC(), want)
	}
	p, _ = Parse("during:2026-02")
	after, before, _ = p.dates(0)
	if !after.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || !before.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("during a month: %v – %v", after, before)
	}
	p, _ = Parse("during:2026 after:2026-06-30")
	after, before, _ = p.dates(0)
	if !after.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) || !before.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("during a year, after a day: %v – %v", after, before)
	}
	for _, bad := range []string{"before:tomorrow", "after:2026-13-01", "during:26"} {
		p, _ := Parse(bad)
		if _, _, err := p.dates(0); apperr.As(err).Kind != apperr.Invalid {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// fakeIndex records applied changes; down makes it fail like an engine that does not answer.
type fakeIndex struct {
	mu      sync.Mutex
	down    bool
	missing bool // deleted: writes fail with ErrSearchIndexMissing until EnsureIndex creates it (empty)
	ensured int
	docs    map[int64]model.IndexOp
	batches int
	last    model.SearchQuery
}

func (f *fakeIndex) EnsureIndex(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errors.New("connection refused")
	}
	f.ensured++
	if f.missing {
		f.missing = false
		f.docs = map[int64]model.IndexOp{}
		return true, nil
	}
	return false, nil
}

func (f *fakeIndex) Apply(_ context.Context, ops []model.IndexOp) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	if f.missing {
		return model.ErrSearchIndexMissing
	}
	f.batches++
	for _, op := range ops {
		if cur, ok := f.docs[op.Message.ID]; !ok || op.Version > cur.Version {
			f.docs[op.Message.ID] = op
		}
	}
	return nil
}

func (f *fakeIndex) Search(_ context.Context, q model.SearchQuery) (model.SearchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return model.SearchResult{}, errors.New("connection refused")
	}
	f.last = q
	return model.SearchResult{Total: 1, Hits: []model.SearchHit{{Message: model.Message{ID: 1}}}}, nil
}

func (f *fakeIndex) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *fakeIndex) ensuredCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.ensured }

func (f *fakeIndex) doc(id int64) (model.IndexOp, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.docs[id]
	return op, ok
}

// fakeLog is a channel's message log, deleted rows included.
type fakeLog struct {
	mu   sync.Mutex
	msgs map[int64][]model.Message
}

func (l *fakeLog) Range(_ context.Context, ch, after int64, limit int) ([]model.Message, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Message
	for _, m := range l.msgs[ch] {
		if m.ID > after {
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, m)
		}
	}
	return out, false, nil
}

func newTestService(idx *fakeIndex, log *fakeLog, cfg Config) *Service {
	return New(idx, log, fakeAccess{}, fakeUsers{}, log, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// AllChannelIDs: the log's channels.
func (l *fakeLog) AllChannelIDs(context.Context) ([]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for ch := range l.msgs {
		out = append(out, ch)
	}
	return out, nil
}

func (l *fakeLog) add(m model.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, old := range l.msgs[m.ChannelID] {
		if old.ID == m.ID {
			l.msgs[m.ChannelID][i] = m
			return
		}
	}
	l.msgs[m.ChannelID] = append(l.msgs[m.ChannelID], m)
}

// fakeCheckpoints is the checkpoint store (MongoDB in the server).
type fakeCheckpoints struct {
	mu    sync.Mutex
	cps   map[string]model.SearchCheckpoint
	saves int
}

func (f *fakeCheckpoints) Save(_ context.Context, cp model.SearchCheckpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cps[cp.Node] = cp
	f.saves++
	return nil
}

func (f *fakeCheckpoints) Load(context.Context) ([]model.SearchCheckpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.SearchCheckpoint
	for _, cp := range f.cps {
		out = append(out, cp)
	}
	return out, nil
}

func (f *fakeCheckpoints) Delete(_ context.Context, node string, savedAt time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cp, ok := f.cps[node]; ok && (savedAt.IsZero() || cp.SavedAt.Equal(savedAt)) {
		delete(f.cps, node)
	}
	return nil
}

func (f *fakeCheckpoints) get(node string) (model.SearchCheckpoint, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp, ok := f.cps[node]
	return cp, ok
}

func (f *fakeCheckpoints) savesSoFar() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saves
}

// crash stops a service the way kill -9 does: no drain, no last checkpoint, the queue lost.
func crash(s *Service) {
	close(s.stop)
	<-s.done
	<-s.cpDone
}

func msg(id, ch int64, text string) model.Message {
	return model.Message{ID: id, ChannelID: ch, SenderID: 1, Content: text, CreatedAt: time.UnixMilli(1_700_000_000_000 + id)}
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

func TestIndexerWritesChangesInOrderAndWaitsOutAnOutage(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}, down: true}
	s := newTestService(idx, &fakeLog{}, Config{Batch: 2})
	s.Start()
	m := msg(10, 1, "hello")
	s.MessageStored(m)
	edited := m
	at := m.CreatedAt.Add(time.Second)
	edited.Content, edited.EditedAt = "hello again", &at
	s.MessageEdited(edited)
	s.MessageStored(msg(11, 1, "second"))
	s.MessageDeleted(1, 11)
	s.MessageStored(model.Message{ID: 12, ChannelID: 1, Kind: model.KindPin}) // system lines are not indexed
	sealed := msg(13, 9, "c2VhbGVk")
	sealed.Encrypted = true
	s.MessageStored(sealed) // nor ciphertext
	clear := msg(14, 9, "written before the DM was encrypted")
	s.MessageStored(clear)
	resealed := clear
	resealed.Content, resealed.Encrypted, resealed.EditedAt = "c2VhbGVkIGFnYWlu", true, &at
	s.MessageEdited(resealed) // re-sealed: its clear text leaves the index
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if s.Flush(ctx) {
		t.Fatal("Flush succeeded while the index is down")
	}
	cancel()
	idx.setDown(false) // the engine comes back: everything queued is written, newest version winning
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !s.Flush(ctx) {
		t.Fatal("queued changes were not written after the outage")
	}
	if d, _ := idx.doc(10); d.Message.Content != "hello again" {
		t.Fatalf("message 10: %+v", d)
	}
	if d, _ := idx.doc(11); !d.Deleted || d.Version != deletedVersion {
		t.Fatalf("message 11: %+v", d)
	}
	if _, ok := idx.doc(12); ok {
		t.Fatal("a pin line was indexed")
	}
	if _, ok := idx.doc(13); ok {
		t.Fatal("an encrypted message was indexed")
	}
	if d, _ := idx.doc(14); !d.Deleted || d.Message.Content != "" {
		t.Fatalf("a re-sealed message stays in the index: %+v", d)
	}
	s.Close(ctx)
}

func TestOverflowIsCaughtUpFromTheLog(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}, down: true}
	log := &fakeLog{msgs: map[int64][]model.Message{}}
	for id := int64(1); id <= 1200; id++ {
		m := msg(id, 5, "m")
		if id == 700 {
			m.Deleted, m.Content = true, ""
		}
		log.msgs[5] = append(log.msgs[5], m)
	}
	s := newTestService(idx, log, Config{QueueLimit: 3})
	s.Start()
	for _, m := range log.msgs[5][:3] {
		s.MessageStored(m)
	}
	for _, m := range log.msgs[5][3:] { // beyond the queue: remembered as "channel 5 after id 3"
		if m.Deleted {
			s.MessageDeleted(5, m.ID)
		} else {
			s.MessageStored(m)
		}
	}
	s.mu.Lock()
	after := s.dirty[5]
	s.mu.Unlock()
	if after != 3 {
		t.Fatalf("dirty after %d, want 3", after)
	}
	idx.setDown(false)
	waitFor(t, "catch-up", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.dirty) == 0
	})
	for _, id := range []int64{1, 4, 699, 701, 1200} {
		if d, ok := idx.doc(id); !ok || d.Deleted {
			t.Fatalf("message %d after catch-up: %+v %v", id, d, ok)
		}
	}
	if d, _ := idx.doc(700); !d.Deleted {
		t.Fatalf("deleted message 700 after catch-up: %+v", d)
	}
	s.Close(context.Background())
}

func TestCloseDoesNotWaitForAnEngineThatIsDown(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}, down: true}
	s := newTestService(idx, &fakeLog{}, Config{})
	s.Start()
	s.MessageStored(msg(1, 1, "x"))
	waitFor(t, "the failure to be noticed", s.failing.Load)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with the engine down", d)
	}
}

func TestReindex(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	log := &fakeLog{msgs: map[int64][]model.Message{}}
	for id := int64(1); id <= 1001; id++ {
		log.msgs[id%2+1] = append(log.msgs[id%2+1], msg(id, id%2+1, "x"))
	}
	s := newTestService(idx, log, Config{})
	sealed := msg(1003, 2, "c2VhbGVk")
	sealed.Encrypted = true
	log.msgs[2] = append(log.msgs[2], sealed)
	idx.docs[1003] = storedOp(sealed) // left by a build from before encrypted rows were excluded
	n, err := s.Reindex(context.Background(), []int64{1, 2}, 0)
	if err != nil || n != 1002 {
		t.Fatalf("Reindex: %d %v", n, err)
	}
	if d, _ := idx.doc(1003); !d.Deleted || d.Message.Content != "" {
		t.Fatalf("the reindex kept an encrypted message's ciphertext: %+v", d)
	}
	if _, ok := idx.doc(1001); !ok {
		t.Fatal("message 1001 not indexed")
	}
	if idx.ensuredCount() != 1 { // `server reindex` runs without the indexer: it must make sure the index exists
		t.Fatalf("Reindex ensured the index %d times", idx.ensuredCount())
	}
	idx.setDown(true)
	if _, err := s.Reindex(context.Background(), []int64{1}, 0); err == nil {
		t.Fatal("Reindex with the engine down succeeded")
	}
}

type fakeAccess struct{}

func (fakeAccess) ReadableChannelIDs(_ context.Context, user int64) ([]int64, error) {
	if user == 666 {
		return nil, errors.New("postgres down")
	}
	return []int64{1, 2, 3, 9}, nil // 9: a DM
}
func (fakeAccess) DMChannelIDs(context.Context, int64) ([]int64, error) { return []int64{9, 10}, nil }
func (fakeAccess) ServerChannels(_ context.Context, server int64) ([]model.Channel, error) {
	if server == 50 {
		return []model.Channel{{ID: 1, Name: "general"}, {ID: 2, Name: "random"}, {ID: 4, Name: "staff"}}, nil
	}
	return nil, nil
}

type fakeUsers struct{}

func (fakeUsers) Search(_ context.Context, prefix string, _ int) ([]model.User, error) {
	if prefix == "alice" || prefix == "ALICE" || prefix == "ali" {
		return []model.User{{ID: 77, Username: "alice"}}, nil
	}
	return nil, nil
}

func TestSearchScopesAndFilters(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	s := newTestService(idx, &fakeLog{}, Config{})
	ctx := context.Background()
	for _, c := range []struct {
		req   Request
		chans []int64
	}{
		{Request{Query: "x", Scope: Scope{ServerID: 50}}, []int64{1, 2}}, // 4 (staff) is not readable
		{Request{Query: "x", Scope: Scope{DMs: true}}, []int64{9}},
		{Request{Query: "x"}, []int64{1, 2, 3, 9}},
		{Request{Query: "x in:#RANDOM", Scope: Scope{ServerID: 50}}, []int64{2}},
		{Request{Query: "x in:staff", Scope: Scope{ServerID: 50}}, nil},
	} {
		idx.last = model.SearchQuery{}
		res, err := s.Search(ctx, 1, c.req)
		if err != nil {
			t.Fatalf("%+v: %v", c.req, err)
		}
		if c.chans == nil {
			if len(res.Hits) != 0 || idx.last.Channels != nil {
				t.Fatalf("%+v: searched %v", c.req, idx.last.Channels)
			}
			continue
		}
		if !reflect.DeepEqual(idx.last.Channels, c.chans) {
			t.Fatalf("%+v: channels %v, want %v", c.req, idx.last.Channels, c.chans)
		}
	}
	if _, err := s.Search(ctx, 1, Request{Query: "from:ALICE mentions:alice x", Limit: 500}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(idx.last.From, []int64{77}) || !reflect.DeepEqual(idx.last.Mentions, []int64{77}) || idx.last.Limit != 25 {
		t.Fatalf("query: %+v", idx.last)
	}
	for _, bad := range []Request{
		{Query: "from:ali"},                        // a prefix is not a user
		{Query: "from:" + strings.Repeat("a", 40)}, // unknown
		{Query: "in:#general"},                     // in: outside a server
		{Query: "in:#nope", Scope: Scope{ServerID: 50}},
		{Query: "x before:soon"},
	} {
		if _, err := s.Search(ctx, 1, bad); apperr.As(err).Kind != apperr.Invalid {
			t.Fatalf("%+v: %v, want invalid", bad, err)
		}
	}
	if _, err := s.Search(ctx, 666, Request{Query: "x"}); apperr.As(err).Kind != apperr.Unavailable {
		t.Fatalf("access check down: %v", err)
	}
	idx.setDown(true)
	if _, err := s.Search(ctx, 1, Request{Query: "x"}); apperr.As(err).Kind != apperr.Unavailable {
		t.Fatalf("engine down: %v", err)
	}
}

// A node that crashed with changes queued (the engine was down): its next start catches them up from the log
// without `server reindex`: new messages since the checkpoint, and an edit and a deletion of older messages.
func TestACrashIsCaughtUpFromTheCheckpoint(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	log := &fakeLog{msgs: map[int64][]model.Message{}}
	cps := &fakeCheckpoints{cps: map[string]model.SearchCheckpoint{}}
	cfg := Config{Node: "1", CheckpointEvery: 20 * time.Millisecond, Margin: time.Minute}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Now()
	old := func(n int64) model.Message { // a day old: indexed long ago, out of any time window
		return model.Message{ID: snowflake.FirstIDAt(now.Add(-24*time.Hour)) + n, ChannelID: 1 + n%2, SenderID: 1, Content: "old words", CreatedAt: now.Add(-24 * time.Hour)}
	}
	a := New(idx, log, fakeAccess{}, fakeUsers{}, log, cps, cfg, quiet)
	a.Start()
	o1, o2 := old(1), old(2)
	for _, m := range []model.Message{o1, o2} {
		log.add(m)
		a.MessageStored(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !a.Flush(ctx) {
		t.Fatal("flush")
	}
	idx.setDown(true) // the engine stops answering; then chat goes on and the node crashes
	fresh := model.Message{ID: snowflake.FirstIDAt(now), ChannelID: 2, SenderID: 1, Content: "new words", CreatedAt: now}
	log.add(fresh)
	a.MessageStored(fresh)
	edited := o1
	at := now
	edited.Content, edited.EditedAt = "changed words", &at
	log.add(edited)
	a.MessageEdited(edited)
	gone := o2
	gone.Deleted, gone.Content = true, ""
	log.add(gone)
	a.MessageDeleted(o2.ChannelID, o2.ID)
	saves := cps.savesSoFar()
	waitFor(t, "a checkpoint with the queued changes", func() bool { return cps.savesSoFar() > saves+1 })
	crash(a)
	cp, ok := cps.get("1")
	if !ok || cp.Since.After(now) || len(cp.Messages) != 2 {
		t.Fatalf("checkpoint after the crash: %+v %v", cp, ok)
	}

	idx.setDown(false)
	b := New(idx, log, fakeAccess{}, fakeUsers{}, log, cps, cfg, quiet)
	b.Start()
	waitFor(t, "the catch-up", b.CaughtUp)
	if d, ok := idx.doc(fresh.ID); !ok || d.Message.Content != "new words" {
		t.Fatalf("new message after the catch-up: %+v %v", d, ok)
	}
	if d, _ := idx.doc(o1.ID); d.Message.Content != "changed words" {
		t.Fatalf("edited message after the catch-up: %+v", d)
	}
	if d, _ := idx.doc(o2.ID); !d.Deleted {
		t.Fatalf("deleted message after the catch-up: %+v", d)
	}
	b.Close(ctx) // clean: nothing owed, so no checkpoint is left
	if cp, ok := cps.get("1"); ok {
		t.Fatalf("checkpoint after a clean shutdown: %+v", cp)
	}
}

// Another node's checkpoint is caught up (and then removed) only once that node stopped saving it.
func TestOnlyDeadNodesCheckpointsAreTaken(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	log := &fakeLog{msgs: map[int64][]model.Message{}}
	now := time.Now()
	m := model.Message{ID: snowflake.FirstIDAt(now), ChannelID: 3, SenderID: 1, Content: "lost", CreatedAt: now}
	log.add(m)
	cps := &fakeCheckpoints{cps: map[string]model.SearchCheckpoint{
		"2": {Node: "2", Since: now, SavedAt: now},                       // alive: saved just now
		"3": {Node: "3", Since: now, SavedAt: now.Add(-5 * time.Minute)}, // dead
	}}
	s := New(idx, log, fakeAccess{}, fakeUsers{}, log, cps, Config{Node: "1", CheckpointEvery: 20 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Start()
	waitFor(t, "the dead node's catch-up", func() bool {
		_, dead := cps.get("3")
		return !dead && s.CaughtUp()
	})
	if _, ok := idx.doc(m.ID); !ok {
		t.Fatal("the dead node's message was not caught up")
	}
	if _, ok := cps.get("2"); !ok {
		t.Fatal("a live node's checkpoint was taken")
	}
	s.Close(context.Background())
}

// An index deleted while the server runs: writes fail instead of creating one without the mapping, the indexer
// creates it again and builds it from the whole log; the queued change is written too.
func TestADeletedIndexIsRebuiltFromTheLog(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	log := &fakeLog{msgs: map[int64][]model.Message{}}
	for id := int64(1); id <= 700; id++ {
		log.add(msg(id, id%3+1, "x"))
	}
	s := newTestService(idx, log, Config{})
	s.Start()
	waitFor(t, "the first build", func() bool { return idx.ensuredCount() == 1 })
	idx.mu.Lock()
	idx.missing = true // deleted
	idx.mu.Unlock()
	late := msg(701, 1, "late")
	log.add(late)
	s.MessageStored(late)
	waitFor(t, "the rebuild", func() bool {
		_, ok := idx.doc(1)
		return ok && s.CaughtUp() && s.pending.Load() == 0
	})
	for _, id := range []int64{1, 350, 700, 701} {
		if _, ok := idx.doc(id); !ok {
			t.Fatalf("message %d missing after the rebuild", id)
		}
	}
	s.Close(context.Background())
}

// A node stopped before it read its last run's checkpoint keeps what that checkpoint owes.
func TestCloseBeforeTheCheckpointsWereReadKeepsThem(t *testing.T) {
	idx := &fakeIndex{docs: map[int64]model.IndexOp{}}
	log := &fakeLog{msgs: map[int64][]model.Message{1: {msg(1, 1, "x")}}}
	old := time.Now().Add(-time.Hour)
	cps := &fakeCheckpoints{cps: map[string]model.SearchCheckpoint{"1": {Node: "1", Since: old, SavedAt: old}}}
	s := New(idx, log, fakeAccess{}, fakeUsers{}, log, cps, Config{Node: "1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Not started: its checkpoint loop never ran, as when a shutdown comes right after the start.
	close(s.cpDone)
	close(s.done)
	s.Close(context.Background())
	cp, ok := cps.get("1")
	if !ok || cp.Since.After(old) {
		t.Fatalf("checkpoint after the early shutdown: %+v %v (want since <= %v)", cp, ok, old)
	}
}
