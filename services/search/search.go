// Package search is message search (issue #18): it keeps the search index in step with the message log and
// answers searches with only what the searcher can read now.
//
// Indexing is asynchronous and after the durable write: messaging hands every stored message, edit and deletion
// to Indexer, which queues it in memory and writes batches to the index in the background, retrying while the
// engine is down. Sends and acks never wait for it; an engine outage delays search results, not chat. If the
// queue overflows (a long outage), the oldest change of each affected channel is remembered and the channel is
// re-read from Cassandra once the engine is back (catch-up). A crash loses what was queued, so every few seconds
// the indexer saves a checkpoint (since when its queue may hold changes, and which older messages were edited or
// deleted) outside the process; the next start re-reads those from Cassandra. An index that had to be created
// (a new installation, or deleted while servers ran) is built from the whole log.
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
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/tracing"
)

// Index is the search engine (repositories/opensearch).
type Index interface {
	// EnsureIndex creates the index with its mapping unless it exists; created: a new, empty index.
	EnsureIndex(ctx context.Context) (created bool, err error)
	// Apply writes changes; model.ErrSearchIndexMissing if the index is gone (it is not re-created by writes).
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

// Channels lists every channel, DMs included (building a new index from the log).
type Channels interface {
	AllChannelIDs(ctx context.Context) ([]int64, error)
}

// Checkpoints keeps each node's checkpoint (MongoDB) so that the next start catches up what a crash lost.
type Checkpoints interface {
	Save(ctx context.Context, cp model.SearchCheckpoint) error
	Load(ctx context.Context) ([]model.SearchCheckpoint, error)
	// Delete removes a node's checkpoint if it is still the one saved at savedAt (the node may have saved since);
	// a zero savedAt removes it whatever it holds (a clean shutdown).
	Delete(ctx context.Context, node string, savedAt time.Time) error
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
	// Node names this process's checkpoint (PARLEY_NODE_ID); CheckpointEvery is how often it is saved, and a
	// checkpoint not saved for StaleAfter belongs to a node that died: whoever starts next catches it up.
	Node            string
	CheckpointEvery time.Duration
	StaleAfter      time.Duration
	// Margin: a message is queued for the index after its flush, which may retry for a while (Cassandra slow or
	// down); catch-up re-reads from this long before the checkpoint.
	Margin time.Duration
}

// Service indexes messages and searches them.
type Service struct {
	index  Index
	log    Log
	access Access
	users  Users
	all    Channels
	cps    Checkpoints
	cfg    Config
	slog   *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	queue   []model.IndexOp
	since   time.Time          // when the oldest queued change was queued
	dirty   map[int64]int64    // channel → re-read the log after this id (the queue overflowed, or catch-up)
	recheck []model.MessageRef // single messages to re-read (edits and deletions a crash may have lost)
	// What the checkpoint must keep covering until the catch-up of earlier checkpoints and builds is done.
	owedSince time.Time
	owedRefs  []model.MessageRef
	rebuild   bool                     // the index was created: every channel must be read from the start
	taken     []model.SearchCheckpoint // checkpoints being caught up: this node's last run's, dead nodes' (deleted when done)
	startup   bool                     // the checkpoints have not been read yet
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	cpDone    chan struct{}
	healthy   bool

	pending atomic.Int64 // changes accepted and not yet written
	failing atomic.Bool  // the last write failed
}

// New builds the service; Start runs its indexer. cps may be nil (no crash catch-up: tests of other things).
func New(index Index, log Log, access Access, users Users, all Channels, cps Checkpoints, cfg Config, logger *slog.Logger) *Service {
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
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 2 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = time.Minute
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 10 * time.Minute
	}
	return &Service{index: index, log: log, access: access, users: users, all: all, cps: cps, cfg: cfg, slog: logger, now: time.Now,
		dirty: map[int64]int64{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), cpDone: make(chan struct{}), healthy: true,
		startup: cps != nil}
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
// are not searchable text, and neither is an end-to-end encrypted message: its ciphertext would only cost space.
func (s *Service) MessageStored(m model.Message) {
	if m.Kind != "" || m.Deleted || m.Encrypted {
		return
	}
	s.enqueue(storedOp(m))
}

// MessageEdited queues an edit: the index then holds the new text only. An edit that re-seals a message written in
// clear before its DM was encrypted removes it from the index for good (a DM's encryption is never turned off).
func (s *Service) MessageEdited(m model.Message) {
	switch {
	case m.Kind != "":
		return
	case m.Encrypted:
		s.MessageDeleted(m.ChannelID, m.ID)
		return
	}
	s.enqueue(storedOp(m))
}

// MessageDeleted queues a deletion: the index keeps a tombstone without text, so nothing brings it back.
func (s *Service) MessageDeleted(channelID, messageID int64) {
	s.enqueue(tombstone(channelID, messageID))
}

func tombstone(channelID, messageID int64) model.IndexOp {
	return model.IndexOp{Message: model.Message{ID: messageID, ChannelID: channelID, CreatedAt: idTime(messageID)}, Deleted: true, Version: deletedVersion}
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
func (s *Service) Start() {
	go s.run()
	if s.cps != nil {
		go s.checkpoints()
	}
}

// Close writes what is queued (within ctx, and only while the engine answers: shutdown does not wait for an
// engine that is down) and stops the indexer. If everything was written, the node's checkpoint is removed;
// otherwise it stays, and the next start catches up from it.
func (s *Service) Close(ctx context.Context) {
	clean := s.drain(ctx, true)
	if !clean {
		s.slog.Warn("search index: shutting down with changes unwritten; the next start catches them up from the log", "changes", s.pending.Load())
	}
	close(s.stop)
	<-s.done
	if s.cps == nil {
		return
	}
	<-s.cpDone
	s.mu.Lock()
	startup := s.startup
	s.mu.Unlock()
	if startup {
		// The last run's checkpoints were never read: take them over first, or saving ours would replace this
		// node's old one (and what it still owes) with ours.
		if err := s.takeCheckpoints(ctx); err != nil {
			s.slog.Warn("search index: could not read the checkpoints at shutdown; the last run's stays", "err", err)
			return
		}
	}
	cp, caughtUp := s.checkpoint()
	if clean && caughtUp {
		if err := s.cps.Delete(ctx, cp.Node, time.Time{}); err != nil {
			s.slog.Warn("search index: could not remove the checkpoint; the next start re-reads a few minutes of the log", "err", err)
		}
		return
	}
	if err := s.cps.Save(ctx, cp); err != nil {
		s.slog.Warn("search index: could not save the checkpoint", "err", err)
	}
}

// Flush waits until every change queued so far is written; false if ctx ended first.
func (s *Service) Flush(ctx context.Context) bool { return s.drain(ctx, false) }

// CaughtUp reports whether no catch-up or build from the log is pending (tests).
func (s *Service) CaughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.startup && !s.rebuild && len(s.dirty) == 0 && len(s.recheck) == 0 && s.owedSince.IsZero() && len(s.owedRefs) == 0
}

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
		var err error
		if !ensured {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var created bool
			created, err = s.index.EnsureIndex(ctx)
			cancel()
			if err == nil {
				ensured = true
				if created && s.all != nil {
					s.slog.Info("search index created; building it from the message log")
					s.mu.Lock()
					s.rebuild = true
					s.mu.Unlock()
				}
			}
		} else {
			var idle bool
			if idle, err = s.step(); idle {
				select {
				case <-s.wake:
					continue
				case <-s.stop:
					return
				}
			}
		}
		if errors.Is(err, model.ErrSearchIndexMissing) {
			s.slog.Error("search index missing (deleted while the server ran?); creating it again with its mapping")
			ensured = false
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

// step does the indexer's next piece of work: queued changes first (waiting up to Linger for a fuller batch),
// then listing the channels of a build, single messages to re-read, channels to re-read. idle: nothing to do.
func (s *Service) step() (idle bool, err error) {
	s.mu.Lock()
	n := min(len(s.queue), s.cfg.Batch)
	if wait := s.cfg.Linger - s.now().Sub(s.since); n > 0 && n < s.cfg.Batch && wait > 0 {
		s.mu.Unlock()
		select {
		case <-s.stop:
			return true, nil // run sees the stop
		case <-time.After(wait):
		}
		return false, nil
	}
	batch := append([]model.IndexOp(nil), s.queue[:n]...)
	rebuild := s.rebuild
	refs := s.recheck[:min(len(s.recheck), 100)]
	var dirtyCh, dirtyAfter int64
	for ch, after := range s.dirty {
		dirtyCh, dirtyAfter = ch, after
		break
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch {
	case n > 0:
		if err := s.index.Apply(ctx, batch); err != nil {
			return false, err
		}
		s.mu.Lock()
		s.queue = s.queue[n:]
		if len(s.queue) == 0 {
			s.queue = nil // let the backing array go
		}
		s.since = time.Time{} // what is left waited already: send it next
		s.mu.Unlock()
		s.pending.Add(int64(-n))
		return false, nil
	case rebuild:
		ids, err := s.all.AllChannelIDs(ctx)
		if err != nil {
			return false, err
		}
		s.mu.Lock()
		for _, ch := range ids {
			s.dirty[ch] = 0
		}
		s.rebuild = false
		s.mu.Unlock()
		s.slog.Info("search index: reading every channel from the message log", "channels", len(ids))
		return false, nil
	case len(refs) > 0:
		if err := s.reread(ctx, refs); err != nil {
			return false, err
		}
		s.mu.Lock()
		s.recheck = s.recheck[len(refs):]
		s.mu.Unlock()
		return false, nil
	case dirtyCh != 0:
		return false, s.catchUp(ctx, dirtyCh, dirtyAfter)
	}
	return true, nil
}

// reread writes single messages as the log has them now (edits and deletions a crash may have lost).
func (s *Service) reread(ctx context.Context, refs []model.MessageRef) error {
	var ops []model.IndexOp
	for _, r := range refs {
		msgs, _, err := s.log.Range(ctx, r.ChannelID, r.ID-1, 1)
		if err != nil {
			return err
		}
		if len(msgs) == 1 && msgs[0].ID == r.ID {
			if op, ok := logOp(msgs[0]); ok {
				ops = append(ops, op)
			}
		}
	}
	return s.index.Apply(ctx, ops)
}

// logOp is the index change for a row of the log (deleted rows included); false for system lines. Encrypted rows
// become tombstones too: what an index built before the exclusion holds of them goes.
func logOp(m model.Message) (model.IndexOp, bool) {
	switch {
	case m.Deleted || m.Encrypted:
		return tombstone(m.ChannelID, m.ID), true
	case m.Kind == "":
		return storedOp(m), true
	}
	return model.IndexOp{}, false
}

// checkpoint is what this node's index may lack now: messages from Since on (the oldest queued new message, a
// channel being re-read, a catch-up not finished) and older messages whose edits or deletions are queued.
// caughtUp: nothing is queued or owed.
func (s *Service) checkpoint() (model.SearchCheckpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	cp := model.SearchCheckpoint{Node: s.cfg.Node, Since: now, SavedAt: now}
	lower := func(t time.Time) {
		if t.Before(cp.Since) {
			cp.Since = t
		}
	}
	const maxRefs = 1000
	for _, op := range s.queue {
		if op.Deleted || op.Message.EditedAt != nil {
			if len(cp.Messages) < maxRefs {
				cp.Messages = append(cp.Messages, model.MessageRef{ChannelID: op.Message.ChannelID, ID: op.Message.ID})
				continue
			}
		}
		lower(idTime(op.Message.ID))
	}
	for _, after := range s.dirty {
		lower(idTime(after + 1))
	}
	if s.rebuild {
		cp.Since = time.Time{}
	}
	if !s.owedSince.IsZero() {
		lower(s.owedSince)
	}
	cp.Messages = append(cp.Messages, s.recheck...)
	cp.Messages = append(cp.Messages, s.owedRefs...)
	caughtUp := len(s.queue) == 0 && len(s.dirty) == 0 && len(s.recheck) == 0 && !s.rebuild && s.owedSince.IsZero() && len(s.owedRefs) == 0
	return cp, caughtUp
}

// checkpoints reads the checkpoints left by this node's last run and by nodes that died, queues their catch-up,
// and then saves this node's checkpoint every CheckpointEvery until Close.
func (s *Service) checkpoints() {
	defer close(s.cpDone)
	tick := time.NewTicker(s.cfg.CheckpointEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.mu.Lock()
		startup := s.startup
		s.mu.Unlock()
		if startup {
			if err := s.takeCheckpoints(ctx); err != nil {
				s.slog.Warn("search index: could not read the checkpoints; retrying", "err", err)
			}
		} else {
			s.finishCatchUp(ctx)
			cp, _ := s.checkpoint()
			if err := s.cps.Save(ctx, cp); err != nil {
				s.slog.Warn("search index: could not save the checkpoint", "err", err)
			}
		}
		cancel()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func (s *Service) takeCheckpoints(ctx context.Context) error {
	all, err := s.cps.Load(ctx)
	if err != nil {
		return err
	}
	var since time.Time
	var refs []model.MessageRef
	var taken []model.SearchCheckpoint
	for _, cp := range all {
		if cp.Node != s.cfg.Node && s.now().Sub(cp.SavedAt) < s.cfg.StaleAfter {
			continue // a live node's
		}
		taken = append(taken, cp)
		if since.IsZero() || cp.Since.Before(since) {
			since = cp.Since
		}
		refs = append(refs, cp.Messages...)
	}
	var ids []int64
	if len(taken) > 0 {
		if ids, err = s.all.AllChannelIDs(ctx); err != nil {
			return err
		}
		s.slog.Info("search index: catching up what a stopped node may not have written", "checkpoints", len(taken),
			"since", since, "channels", len(ids), "messages", len(refs))
	}
	after := int64(0)
	if since.After(time.Unix(0, 0)) {
		after = snowflake.FirstIDAt(since.Add(-s.cfg.Margin)) - 1
		after = max(after, 0)
	}
	s.mu.Lock()
	for _, ch := range ids {
		if cur, ok := s.dirty[ch]; !ok || after < cur {
			s.dirty[ch] = after
		}
	}
	s.recheck = append(s.recheck, refs...)
	if len(taken) > 0 {
		s.owedSince = since
		if since.IsZero() {
			s.owedSince = time.Unix(0, 1)
		}
		s.owedRefs = refs
	}
	s.taken = taken
	s.startup = false
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// finishCatchUp forgets the checkpoints taken at start once everything they named was read again.
func (s *Service) finishCatchUp(ctx context.Context) {
	s.mu.Lock()
	done := len(s.taken) > 0 && len(s.dirty) == 0 && len(s.recheck) == 0 && !s.rebuild
	taken := s.taken
	s.mu.Unlock()
	if !done {
		return
	}
	for _, cp := range taken {
		if cp.Node == s.cfg.Node {
			continue // this node's own is overwritten by its saves
		}
		if err := s.cps.Delete(ctx, cp.Node, cp.SavedAt); err != nil {
			return
		}
	}
	s.mu.Lock()
	s.taken, s.owedSince, s.owedRefs = nil, time.Time{}, nil
	s.mu.Unlock()
	s.slog.Info("search index: caught up")
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
func (s *Service) catchUp(ctx context.Context, channelID, after int64) error {
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
		if op, ok := logOp(m); ok {
			ops = append(ops, op)
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
	if _, err := s.index.EnsureIndex(ctx); err != nil { // writes never create the index (nor learn its layout)
		return 0, err
	}
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
