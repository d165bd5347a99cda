// Package search is message search (issue #18): it keeps the search index in step with the message log and
// answers searches with only what the searcher can read now.
//
// Indexing is asynchronous and after the durable write: messaging hands every stored message, edit and deletion
// to Indexer, which queues it in memory and writes batches to the index in the background, retrying while the
// engine is down. Sends and acks never wait for it; an engine outage delays search results, not chat. If the
// queue overflows (a long outage), the oldest change of each affected channel is remembered and the channel is
// re-read from Cassandra once the engine is back (catch-up). A crash loses what was queued: `server reindex`
// re-reads the message log for a time window.
package search

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Index is the search engine (repositories/opensearch).
type Index interface {
	EnsureIndex(ctx context.Context) error // create the index with its mapping unless it exists
	Apply(ctx context.Context, ops []model.IndexOp) error
	Search(ctx context.Context, q model.SearchQuery) (model.SearchResult, error)
}

// Log is the message log (Cassandra), read for catch-up: every row after an id, deleted ones included.
type Log interface {
	Range(ctx context.Context, channelID, after int64, limit int) ([]model.Message, bool, error)
}

// Access tells what a user can read now (community): a kicked member's channels are gone from the answer at once.
type Access interface {
	ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	DMChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	ServerChannels(ctx context.Context, serverID int64) ([]model.Channel, error)
}

// Users finds users by name (from:, mentions:).
type Users interface {
	Search(ctx context.Context, prefix string, limit int) ([]model.User, error)
}

// Config tunes the indexer.
type Config struct {
	Batch      int           // changes per bulk request
	QueueLimit int           // changes held in memory; beyond it a channel is marked for catch-up instead
	Linger     time.Duration // a change waits up to this long for others to share its bulk request
}

// Service indexes messages and searches them.
type Service struct {
	index  Index
	log    Log
	access Access
	users  Users
	cfg    Config
	slog   *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	queue   []model.IndexOp
	since   time.Time       // when the oldest queued change was queued
	dirty   map[int64]int64 // channel → re-read the log after this id (the queue overflowed)
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	healthy bool

	pending atomic.Int64 // changes accepted and not yet written
	failing atomic.Bool  // the last write failed
}

// New builds the service; Start runs its indexer.
func New(index Index, log Log, access Access, users Users, cfg Config, logger *slog.Logger) *Service {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 100_000
	}
	if cfg.Linger <= 0 {
		// A bulk request per message cost the engine 1.4 ms of CPU per message, 500 per request 40 µs
		// (BENCHMARKS.md); results are searchable only after the index's 1 s refresh anyway.
		cfg.Linger = 100 * time.Millisecond
	}
	return &Service{index: index, log: log, access: access, users: users, cfg: cfg, slog: logger, now: time.Now,
		dirty: map[int64]int64{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), healthy: true}
}

// micros is a change's version: the index keeps a message's highest.
func micros(t time.Time) int64 { return t.UnixMicro() }

// deletedVersion outranks every other change: a deletion is final, whatever the clocks of the nodes said.
const deletedVersion = int64(1) << 62

func storedOp(m model.Message) model.IndexOp {
	v := micros(m.CreatedAt)
	if m.EditedAt != nil {
		v = max(micros(*m.EditedAt), v+1) // an edit outranks the original even if another node's clock is behind
	}
	return model.IndexOp{Message: m, Version: v}
}

// MessageStored queues a new message (messaging calls it after Cassandra acknowledged it). System lines (pins)
// are not searchable text.
func (s *Service) MessageStored(m model.Message) {
	if m.Kind != "" || m.Deleted {
		return
	}
	s.enqueue(storedOp(m))
}

// MessageEdited queues an edit: the index then holds the new text only.
func (s *Service) MessageEdited(m model.Message) {
	if m.Kind != "" {
		return
	}
	s.enqueue(storedOp(m))
}

// MessageDeleted queues a deletion: the index keeps a tombstone without text, so nothing brings it back.
func (s *Service) MessageDeleted(channelID, messageID int64) {
	s.enqueue(model.IndexOp{Message: model.Message{ID: messageID, ChannelID: channelID, CreatedAt: idTime(messageID)}, Deleted: true, Version: deletedVersion})
}

func (s *Service) enqueue(op model.IndexOp) {
	s.mu.Lock()
	if len(s.queue) >= s.cfg.QueueLimit {
		// Full: remember where the channel needs re-reading (this change included) instead of growing.
		after := op.Message.ID - 1
		if cur, ok := s.dirty[op.Message.ChannelID]; !ok || after < cur {
			s.dirty[op.Message.ChannelID] = after
		}
		s.mu.Unlock()
		return
	}
	if len(s.queue) == 0 {
		s.since = s.now()
	}
	s.queue = append(s.queue, op)
	s.pending.Add(1)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start runs the indexer until Close.
func (s *Service) Start() { go s.run() }

// Close writes what is queued (within ctx, and only while the engine answers: shutdown does not wait for an
// engine that is down) and stops the indexer. What is left is missing from the index until `server reindex`;
// the messages themselves are in Cassandra.
func (s *Service) Close(ctx context.Context) {
	if !s.drain(ctx, true) {
		s.slog.Warn("search index: shutting down with changes unwritten; `server reindex -since` catches up", "changes", s.pending.Load())
	}
	close(s.stop)
	<-s.done
}

// Flush waits until every change queued so far is written; false if ctx ended first.
func (s *Service) Flush(ctx context.Context) bool { return s.drain(ctx, false) }

// drain waits until nothing is queued; false if ctx ended first or (giveUp) a write is failing.
func (s *Service) drain(ctx context.Context, giveUp bool) bool {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.pending.Load() > 0 {
		if giveUp && s.failing.Load() {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

func (s *Service) run() {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ensured := false; ; {
		if !ensured {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := s.index.EnsureIndex(ctx)
			cancel()
			s.noteHealth(err)
			if err != nil {
				select {
				case <-s.stop:
					return
				case <-time.After(backoff):
					backoff = min(2*backoff, 5*time.Second)
				}
				continue
			}
			ensured, backoff = true, 100*time.Millisecond
		}
		s.mu.Lock()
		n := min(len(s.queue), s.cfg.Batch)
		if wait := s.cfg.Linger - s.now().Sub(s.since); n > 0 && n < s.cfg.Batch && wait > 0 {
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(wait):
			}
			continue
		}
		batch := append([]model.IndexOp(nil), s.queue[:n]...)
		var dirtyCh, dirtyAfter int64
		if n == 0 {
			for ch, after := range s.dirty {
				dirtyCh, dirtyAfter = ch, after
				break
			}
		}
		s.mu.Unlock()

		var err error
		switch {
		case n > 0:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = s.index.Apply(ctx, batch)
			cancel()
			if err == nil {
				s.mu.Lock()
				s.queue = s.queue[n:]
				if len(s.queue) == 0 {
					s.queue = nil // let the backing array go
				}
				s.since = time.Time{} // what is left waited already: send it next
				s.mu.Unlock()
				s.pending.Add(int64(-n))
			}
		case dirtyCh != 0:
			err = s.catchUp(dirtyCh, dirtyAfter)
		default:
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		s.noteHealth(err)
		if err == nil {
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

func (s *Service) noteHealth(err error) {
	s.failing.Store(err != nil)
	s.mu.Lock()
	was := s.healthy
	s.healthy = err == nil
	queued := len(s.queue)
	s.mu.Unlock()
	switch {
	case was && err != nil:
		s.slog.Warn("search index unavailable; changes wait in memory and are retried", "err", err, "queued", queued)
	case !was && err == nil:
		s.slog.Info("search index available again", "queued", queued)
	}
}

// catchUp re-reads one page of a channel's log after an id and writes it to the index; the channel stays dirty
// until its log is read to the end.
func (s *Service) catchUp(channelID, after int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next, _, more, err := s.reindexPage(ctx, channelID, after)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if cur, ok := s.dirty[channelID]; ok && cur == after { // unless an overflow meanwhile moved it back
		if more {
			s.dirty[channelID] = next
		} else {
			delete(s.dirty, channelID)
		}
	}
	s.mu.Unlock()
	return nil
}

const reindexPage = 500

// reindexPage writes one page of a channel's log after an id to the index: the last id read, the rows read,
// and whether more follow.
func (s *Service) reindexPage(ctx context.Context, channelID, after int64) (int64, int, bool, error) {
	msgs, more, err := s.log.Range(ctx, channelID, after, reindexPage)
	if err != nil {
		return after, 0, false, err
	}
	ops := make([]model.IndexOp, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Deleted:
			ops = append(ops, model.IndexOp{Message: m, Deleted: true, Version: deletedVersion})
		case m.Kind == "":
			ops = append(ops, storedOp(m))
		}
		after = m.ID
	}
	if err := s.index.Apply(ctx, ops); err != nil {
		return after, 0, false, err
	}
	return after, len(msgs), more && len(msgs) > 0, nil
}

// Reindex re-reads channels' logs after an id (0: from the start) and writes them to the index: after a crash
// lost queued changes, or to build a new index. It returns how many rows it read.
func (s *Service) Reindex(ctx context.Context, channelIDs []int64, after int64) (int, error) {
	ctx, span := tracing.Start(ctx, "search.Reindex")
	defer span.End()
	n := 0
	for _, ch := range channelIDs {
		from := after
		for {
			next, read, more, err := s.reindexPage(ctx, ch, from)
			if err != nil {
				return n, err
			}
			n += read
			if !more {
				break
			}
			from = next
		}
	}
	return n, nil
}

// Scope is where a search looks: one server's channels, the searcher's DMs, or (neither) everything they can read.
type Scope struct {
	ServerID int64
	DMs      bool
}

// Request is one search as the API receives it.
type Request struct {
	Query    string
	Scope    Scope
	BeforeID int64
	Limit    int
	// TZOffset is the searcher's UTC offset (what their dates in before:/after:/during: mean).
	TZOffset time.Duration
}

// Search answers a query with the messages the user can read now, newest first.
func (s *Service) Search(ctx context.Context, userID int64, req Request) (model.SearchResult, error) {
	ctx, span := tracing.Start(ctx, "search.Search")
	defer span.End()
	p, err := Parse(req.Query)
	if err != nil {
		return model.SearchResult{}, err
	}
	if req.Limit <= 0 || req.Limit > 100 {
		req.Limit = 25
	}
	chans, err := s.scope(ctx, userID, req.Scope)
	if err != nil {
		return model.SearchResult{}, err
	}
	q := model.SearchQuery{Terms: p.Terms, Phrases: p.Phrases, HasLink: p.HasLink, HasFile: p.HasFile, BeforeID: req.BeforeID, Limit: req.Limit}
	if q.After, q.Before, err = p.dates(req.TZOffset); err != nil {
		return model.SearchResult{}, err
	}
	if len(p.In) > 0 {
		if chans, err = s.only(ctx, req.Scope, chans, p.In); err != nil {
			return model.SearchResult{}, err
		}
	}
	if q.From, err = s.userIDs(ctx, p.From, "from"); err != nil {
		return model.SearchResult{}, err
	}
	if q.Mentions, err = s.userIDs(ctx, p.Mentions, "mentions"); err != nil {
		return model.SearchResult{}, err
	}
	if len(chans) == 0 {
		return model.SearchResult{}, nil // a non-member (or a user who can read nothing there) finds nothing
	}
	q.Channels = chans
	res, err := s.index.Search(ctx, q)
	if err != nil {
		return model.SearchResult{}, apperr.Wrap(apperr.Unavailable, err, "search is unavailable right now; try again in a moment")
	}
	return res, nil
}

// scope lists the channels a search may look in: what the user can read now, within the scope.
func (s *Service) scope(ctx context.Context, userID int64, sc Scope) ([]int64, error) {
	readable, err := s.access.ReadableChannelIDs(ctx, userID)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "could not check what you can read")
	}
	var within []int64
	switch {
	case sc.ServerID != 0:
		chans, err := s.access.ServerChannels(ctx, sc.ServerID)
		if err != nil {
			return nil, err
		}
		for _, c := range chans {
			within = append(within, c.ID)
		}
	case sc.DMs:
		if within, err = s.access.DMChannelIDs(ctx, userID); err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, err, "could not list your DMs")
		}
	default:
		return readable, nil
	}
	return intersect(readable, within), nil
}

// only narrows a server search to the channels named by in:#name.
func (s *Service) only(ctx context.Context, sc Scope, chans []int64, names []string) ([]int64, error) {
	if sc.ServerID == 0 {
		return nil, apperr.InvalidField("q", "in:#channel works in a server's search")
	}
	all, err := s.access.ServerChannels(ctx, sc.ServerID)
	if err != nil {
		return nil, err
	}
	var named []int64
	for _, n := range names {
		found := false
		for _, c := range all {
			if equalFold(c.Name, n) {
				named, found = append(named, c.ID), true
			}
		}
		if !found {
			return nil, apperr.InvalidField("q", "no channel named #"+n+" in this server")
		}
	}
	return intersect(chans, named), nil
}

func (s *Service) userIDs(ctx context.Context, names []string, op string) ([]int64, error) {
	var ids []int64
	for _, n := range names {
		us, err := s.users.Search(ctx, n, 1) // username matches come first, the exact one before longer ones
		if err != nil {
			var e *apperr.Error
			if errors.As(err, &e) && e.Kind == apperr.Invalid {
				return nil, apperr.InvalidField("q", op+": needs a username of 1-32 characters")
			}
			return nil, err
		}
		if len(us) == 0 || !equalFold(us[0].Username, n) {
			return nil, apperr.InvalidField("q", op+": no user named @"+n)
		}
		ids = append(ids, us[0].ID)
	}
	return ids, nil
}

func intersect(a, b []int64) []int64 {
	in := make(map[int64]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	var out []int64
	for _, id := range a {
		if in[id] {
			out = append(out, id)
			in[id] = false
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
