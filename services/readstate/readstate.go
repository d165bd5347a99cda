// Package readstate owns read receipts, delivery receipts and unread counts. Positions only move forward,
// are announced at once, and are written to MongoDB coalesced (one write per user and channel per interval).
package readstate

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/coalesce"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Store persists positions (MongoDB).
type Store interface {
	Advance(ctx context.Context, states []model.ReadState) error
	ForUser(ctx context.Context, userID int64, channelIDs []int64) ([]model.ReadState, error)
	ForChannel(ctx context.Context, channelID int64) ([]model.ReadState, error)
}

// Access answers whether a user may read a channel, and whom a user blocks (their messages are not unread).
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
	BlockedIDs(ctx context.Context, userID int64) ([]int64, error)
}

// Messages looks messages up and counts unread ones.
type Messages interface {
	Message(ctx context.Context, channelID, messageID int64) (model.Message, error)
	CountAfter(ctx context.Context, channelID, after, userID int64, ignore []int64, limit int) (unread, mentions int, err error)
	Latest(channelID int64) (int64, time.Time, bool)
}

// Notifier announces receipts.
type Notifier interface {
	ReadAdvanced(channelID, userID, messageID int64)
	Delivered(channel model.Channel, userID, messageID, senderID int64)
}

// Stored is where the service hears about stored messages (messaging.Relay): it calls messaging too, so it
// cannot be handed to messaging by constructor, and joins the relay when it is built.
type Stored interface {
	Join(fn func(model.Message))
}

// Peers hears about every position this node moves (several nodes: it tells the others, which keep their
// caches current with Learn; nil on one node).
type Peers interface {
	Advanced(st model.ReadState)
}

// UnreadCap is the largest unread count reported; clients show "99+"-style badges beyond it.
const UnreadCap = 100

type key struct{ user, channel int64 }

// Service implements receipts and unread counts.
type Service struct {
	store  Store
	access Access
	msgs   Messages
	notify Notifier
	peers  Peers
	log    *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	known  map[int64]map[int64]model.ReadState // channel → user → position seen on this node
	nKnown int
	full   map[int64]bool                         // channels whose known positions include every one stored (loaded once per channel)
	wipes  int                                    // times known was dropped wholesale (a load that overlaps one is not marked full)
	dirty  *coalesce.Writer[key, model.ReadState] // advanced by receipts, not yet written (its lock is taken inside mu)
	// own holds positions moved only by the user's own messages, written OwnWriteFactor times less often: in a
	// busy channel every sender moves their position each time they write, which made these most of MongoDB's
	// writes (measured: 200 upserts/s at 1,000 msg/s in 100 channels). Losing one in a crash costs little: the
	// sender's own messages never count as unread, only others' messages before it may show unread again.
	own *coalesce.Writer[key, model.ReadState]
}

// OwnWriteFactor is how many write intervals a position moved only by the user's own message may wait.
const OwnWriteFactor = 6

// New builds the service and starts its coalesced writer, which writes the positions advanced in the last
// interval (one write per user and channel however many receipts came). Close flushes and stops it.
// stored may be nil (a service that does not follow the messages sent, as in tests).
func New(store Store, access Access, msgs Messages, notify Notifier, peers Peers, stored Stored, interval time.Duration, log *slog.Logger) *Service {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	s := &Service{store: store, access: access, msgs: msgs, notify: notify, peers: peers, log: log, now: time.Now,
		known: map[int64]map[int64]model.ReadState{}, full: map[int64]bool{}}
	cfg := coalesce.Config[model.ReadState]{Write: store.Advance, Merge: maxState,
		OnFail: func(n int, err error) { log.Warn("read state not written; will retry", "entries", n, "err", err) }}
	s.dirty, s.own = coalesce.New[key](cfg), coalesce.New[key](cfg)
	s.dirty.Start(interval)
	s.own.Start(OwnWriteFactor * interval)
	if stored != nil {
		stored.Join(s.MessageStored)
	}
	return s
}

// Flush writes the advanced positions now.
func (s *Service) Flush(ctx context.Context) {
	_ = s.dirty.Flush(ctx)
	_ = s.own.Flush(ctx)
}

// Close writes what is pending and stops the writers.
func (s *Service) Close(ctx context.Context) {
	_ = s.dirty.Close(ctx)
	_ = s.own.Close(ctx)
}

// maxState combines two positions of the same user and channel, field by field.
func maxState(a, b model.ReadState) model.ReadState {
	if a.UserID == 0 {
		a.UserID, a.ChannelID = b.UserID, b.ChannelID
	}
	if b.LastReadID > a.LastReadID {
		a.LastReadID = b.LastReadID
	}
	if b.LastDeliveredID > a.LastDeliveredID {
		a.LastDeliveredID = b.LastDeliveredID
	}
	if b.UpdatedAt.After(a.UpdatedAt) {
		a.UpdatedAt = b.UpdatedAt
	}
	return a
}

func (s *Service) mergeDirtyLocked(st model.ReadState) { s.dirty.Add(key{st.UserID, st.ChannelID}, st) }

// pendingLocked returns a position advanced on this node and not yet written, from either writer.
func (s *Service) pendingLocked(k key) (model.ReadState, bool) {
	a, okA := s.dirty.Get(k)
	b, okB := s.own.Get(k)
	return maxState(a, b), okA || okB
}

// position returns a user's current position in a channel, loading it on first use.
func (s *Service) position(ctx context.Context, userID, channelID int64) (model.ReadState, error) {
	s.mu.Lock()
	st, ok := s.known[channelID][userID]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	loaded, err := s.store.ForUser(ctx, userID, []int64{channelID})
	if err != nil {
		return st, apperr.Wrap(apperr.Unavailable, err, "read state is unavailable right now")
	}
	st = model.ReadState{UserID: userID, ChannelID: channelID}
	for _, l := range loaded {
		st = maxState(st, l)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pendingLocked(key{userID, channelID}); ok {
		st = maxState(st, p) // advanced here and not yet written: MongoDB is behind
	}
	st = s.rememberLocked(st)
	return st, nil
}

// rememberLocked merges a position into the node's cache (bounded: it is dropped wholesale when large, and
// positions are reloaded from MongoDB when needed). Callers hold s.mu.
func (s *Service) rememberLocked(st model.ReadState) model.ReadState {
	if s.nKnown > 500_000 {
		s.known, s.nKnown, s.full = map[int64]map[int64]model.ReadState{}, 0, map[int64]bool{}
		s.wipes++
	}
	byUser, ok := s.known[st.ChannelID]
	if !ok {
		byUser = map[int64]model.ReadState{}
		s.known[st.ChannelID] = byUser
	}
	cur, ok := byUser[st.UserID]
	if !ok {
		s.nKnown++
	}
	st = maxState(cur, st)
	byUser[st.UserID] = st
	return st
}

// advance moves a position forward; it reports whether anything moved.
// positionLoadTimeout bounds the MongoDB read of a position a receipt moves (see advance).
const positionLoadTimeout = 2 * time.Second

func (s *Service) advance(ctx context.Context, userID, channelID, readID, deliveredID int64) (bool, error) {
	// MongoDB away: the position still moves. The write merges with $max, so it cannot undo a later position
	// stored elsewhere; it is only not cached as known here, since the stored one may be further along.
	lctx, cancel := context.WithTimeout(ctx, positionLoadTimeout)
	cur, err := s.position(lctx, userID, channelID)
	cancel()
	known := err == nil
	if !known {
		cur = model.ReadState{UserID: userID, ChannelID: channelID}
	}
	next := maxState(cur, model.ReadState{UserID: userID, ChannelID: channelID, LastReadID: readID, LastDeliveredID: max(deliveredID, readID), UpdatedAt: s.now().UTC()})
	if next.LastReadID == cur.LastReadID && next.LastDeliveredID == cur.LastDeliveredID {
		return false, nil
	}
	s.mu.Lock()
	if known {
		s.rememberLocked(next)
	}
	s.mergeDirtyLocked(next)
	s.mu.Unlock()
	if s.peers != nil {
		s.peers.Advanced(next)
	}
	return true, nil
}

// Learn merges a position another node moved into this node's cache (it is that node's to write).
func (s *Service) Learn(st model.ReadState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.known[st.ChannelID][st.UserID]; ok || s.full[st.ChannelID] {
		s.rememberLocked(st)
	}
}

func (s *Service) checkMessage(ctx context.Context, userID, channelID, messageID int64) (model.Channel, model.Message, error) {
	ch, _, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return ch, model.Message{}, err
	}
	m, err := s.msgs.Message(ctx, channelID, messageID)
	if err != nil {
		return ch, m, err
	}
	return ch, m, nil
}

// Read records that a user has read a channel up to a message. Moving backwards is a no-op.
func (s *Service) Read(ctx context.Context, userID, channelID, messageID int64) error {
	ctx, span := tracing.Start(ctx, "readstate.Read")
	defer span.End()
	if _, _, err := s.checkMessage(ctx, userID, channelID, messageID); err != nil {
		return err
	}
	moved, err := s.advance(ctx, userID, channelID, messageID, messageID)
	if err != nil {
		return err
	}
	if moved {
		s.notify.ReadAdvanced(channelID, userID, messageID)
	}
	return nil
}

// Delivered records that a user's client received a message, and tells its sender.
func (s *Service) Delivered(ctx context.Context, userID, channelID, messageID int64) error {
	ctx, span := tracing.Start(ctx, "readstate.Delivered")
	defer span.End()
	ch, m, err := s.checkMessage(ctx, userID, channelID, messageID)
	if err != nil {
		return err
	}
	if m.SenderID == userID {
		return nil
	}
	moved, err := s.advance(ctx, userID, channelID, 0, messageID)
	if err != nil {
		return err
	}
	if moved {
		s.notify.Delivered(ch, userID, messageID, m.SenderID)
	}
	return nil
}

// MessageStored moves the sender's own read position to their message (what you wrote, you have read).
func (s *Service) MessageStored(m model.Message) {
	st := model.ReadState{UserID: m.SenderID, ChannelID: m.ChannelID, LastReadID: m.ID, LastDeliveredID: m.ID, UpdatedAt: s.now().UTC()}
	s.mu.Lock()
	// Known positions move on; a channel whose positions are all cached (full) must learn a new one too.
	if _, ok := s.known[m.ChannelID][m.SenderID]; ok || s.full[m.ChannelID] {
		s.rememberLocked(st)
	}
	s.own.Add(key{st.UserID, st.ChannelID}, st)
	s.mu.Unlock()
	// Not told to the other nodes: that would be a bus message per chat message (measured: Redis's CPU per
	// message is most of the bus's cost). Their caches learn the sender's position at the next receipt, and
	// MongoDB has it within OwnWriteFactor write intervals (30 s by default); until then another node may show that sender's own message as
	// unread by them for a moment.
}

// Annotate fills read positions and unread counts into channel views (the HTTP handlers combine channel lists with it).
func (s *Service) Annotate(ctx context.Context, userID int64, views []model.ChannelView) error {
	ctx, span := tracing.Start(ctx, "readstate.Annotate")
	defer span.End()
	if len(views) == 0 {
		return nil
	}
	ids := make([]int64, len(views))
	for i, v := range views {
		ids[i] = v.Channel.ID
	}
	stored, err := s.store.ForUser(ctx, userID, ids)
	if err != nil {
		return err
	}
	pos := map[int64]model.ReadState{}
	for _, st := range stored {
		pos[st.ChannelID] = maxState(pos[st.ChannelID], st)
	}
	s.mu.Lock()
	for _, id := range ids {
		if st, ok := s.known[id][userID]; ok {
			pos[id] = maxState(pos[id], st)
		}
		if st, ok := s.pendingLocked(key{userID, id}); ok {
			pos[id] = maxState(pos[id], st)
		}
	}
	s.mu.Unlock()

	// Messages of users the caller blocks do not count (Discord and Slack do the same). If the block list cannot
	// be read, counting them is better than failing the whole channel list.
	blocked, err := s.access.BlockedIDs(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "unread counts include blocked users", "user", userID, "err", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	for i := range views {
		v := &views[i]
		v.LastReadID = pos[v.Channel.ID].LastReadID
		if id, at, ok := s.msgs.Latest(v.Channel.ID); ok && id > v.Meta.LastMessageID {
			v.Meta.LastMessageID, v.Meta.LastMessageAt = id, at
		}
		if v.Meta.LastMessageID <= v.LastReadID {
			continue // read to the end: no need to count
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			n, mentions, err := s.msgs.CountAfter(ctx, v.Channel.ID, v.LastReadID, userID, blocked, UnreadCap)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			v.UnreadCount, v.MentionCount = n, mentions
		}()
	}
	wg.Wait()
	return firstErr
}

// ReadUpTo returns the furthest position any other user has read in a channel: the caller's own messages up
// to it count as read (httpapi.ReadMarker). It is asked for every history page, so it is served from memory
// once the channel's positions were loaded.
func (s *Service) ReadUpTo(ctx context.Context, userID, channelID int64) (int64, error) {
	ctx, span := tracing.Start(ctx, "readstate.ReadUpTo")
	defer span.End()
	states, err := s.Receipts(ctx, userID, channelID)
	if err != nil {
		return 0, err
	}
	var best int64
	for _, st := range states {
		if st.UserID != userID && st.LastReadID > best {
			best = st.LastReadID
		}
	}
	return best, nil
}

// Receipts returns every member's read and delivery position in a channel (members only).
func (s *Service) Receipts(ctx context.Context, userID, channelID int64) ([]model.ReadState, error) {
	ctx, span := tracing.Start(ctx, "readstate.Receipts")
	defer span.End()
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return nil, err
	}
	if out, ok := s.cachedPositions(channelID); ok {
		return out, nil
	}
	s.mu.Lock()
	wipes := s.wipes
	s.mu.Unlock()
	stored, err := s.store.ForChannel(ctx, channelID)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "read state is unavailable right now")
	}
	s.mu.Lock()
	for _, st := range stored {
		s.rememberLocked(st)
	}
	for _, w := range []*coalesce.Writer[key, model.ReadState]{s.dirty, s.own} {
		w.Each(func(k key, st model.ReadState) { // not yet written, and possibly dropped from known by a wipe
			if k.channel == channelID {
				s.rememberLocked(st)
			}
		})
	}
	// Every later advance on this node goes through known, so from now on it is complete for the channel.
	s.full[channelID] = s.wipes == wipes
	s.mu.Unlock()
	out, _ := s.cachedPositions(channelID)
	return out, nil
}

// cachedPositions copies a channel's positions from memory; ok is false until they were loaded.
func (s *Service) cachedPositions(channelID int64) ([]model.ReadState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byUser := s.known[channelID]
	out := make([]model.ReadState, 0, len(byUser))
	for uid, st := range byUser {
		st.UserID, st.ChannelID = uid, channelID
		out = append(out, st)
	}
	return out, s.full[channelID]
}
