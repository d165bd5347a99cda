// Package reactions owns emoji reactions to messages. A change is checked (access, the message exists, the emoji,
// limits), announced at once, and written to MongoDB coalesced: the service keeps the changes of the last
// interval in memory (one pending entry per message, user and emoji however often it was toggled) and writes
// them as one batch. Reads merge the store with what is pending, so nobody sees a reaction go back and forth.
package reactions

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/tracing"
)

// Store persists reactions (MongoDB).
type Store interface {
	Apply(ctx context.Context, changes []model.ReactionChange) error
	ForMessages(ctx context.Context, messageIDs []int64) ([]model.Reaction, error)
	Users(ctx context.Context, messageID int64, emoji string, after int64, limit int) ([]int64, error)
}

// Access answers whether a user may read a channel (community.Access).
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
}

// Messages finds a visible (stored, not deleted) message (messaging.Service).
type Messages interface {
	Message(ctx context.Context, channelID, messageID int64) (model.Message, error)
}

// Gate refuses a reaction that access alone allows: in a 1:1 DM where one participant blocks the other, nobody
// may add one (as nobody may send). Removing one's own reaction is always allowed (community.Access).
type Gate interface {
	CanSend(ctx context.Context, userID int64, ch model.Channel) error
}

// Notifier announces changes to the channel's members.
type Notifier interface {
	ReactionChanged(u Update)
}

// Config tunes the service; zero values take the defaults.
type Config struct {
	WriteInterval time.Duration // how often pending changes are written (PARLEY_STATE_WRITE_INTERVAL, 5 s)
	MaxEmoji      int           // distinct emoji per message (20)
	Rate          time.Duration // one change per Rate per user, sustained (200 ms: 5/s) ...
	Burst         int           // ... after a burst of this many (20)
	PreviewUsers  int           // user ids listed per emoji with a message (10)
	CacheTTL      time.Duration // a message's stored reactions are re-read after this long (30 s)
	Gate          Gate          // nil: no gate beyond read access
}

const (
	DefaultMaxEmoji     = 20
	DefaultPreviewUsers = 10
	maxCached           = 100_000 // messages whose stored reactions are kept in memory
)

// Summary is one emoji's reactions to a message as one user sees them.
type Summary struct {
	Emoji   string
	Count   int
	Me      bool    // the viewer reacted with it
	UserIDs []int64 // the first PreviewUsers who reacted, in order
}

// Update is one user's reaction added or removed, with the emoji's new count.
type Update struct {
	ChannelID, MessageID int64
	Emoji                string
	Count                int
	UserID               int64
	Added                bool
	UserIDs              []int64 // the first PreviewUsers who reacted, after the change
}

type ukey struct {
	user  int64
	emoji string
}

type op struct {
	channel int64
	add     bool
	at      time.Time
}

// snapshot is a message's reactions as stored (as read at `at`, plus this node's writes since).
type snapshot struct {
	reactions []model.Reaction
	at        time.Time
}

// Service implements reactions.
type Service struct {
	store   Store
	access  Access
	msgs    Messages
	notify  Notifier
	cfg     Config
	log     *slog.Logger
	limiter *ratelimit.Keyed
	now     func() time.Time

	flushMu  sync.Mutex // one write at a time, so batches land in order
	mu       sync.Mutex
	pending  map[int64]map[ukey]op // message → changes not yet written
	inflight map[int64]map[ukey]op // the batch being written
	snaps    map[int64]*snapshot
	gen      uint64 // bumped when a batch landed: a read that overlapped it may predate it

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New builds the service and starts its coalesced writer. Close writes what is pending and stops it.
func New(store Store, access Access, msgs Messages, notify Notifier, cfg Config, log *slog.Logger) *Service {
	if cfg.WriteInterval <= 0 {
		cfg.WriteInterval = 5 * time.Second
	}
	if cfg.MaxEmoji <= 0 {
		cfg.MaxEmoji = DefaultMaxEmoji
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 200 * time.Millisecond
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 20
	}
	if cfg.PreviewUsers <= 0 {
		cfg.PreviewUsers = DefaultPreviewUsers
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	s := &Service{store: store, access: access, msgs: msgs, notify: notify, cfg: cfg, log: log,
		limiter: ratelimit.New(cfg.Rate, cfg.Burst), now: time.Now,
		pending: map[int64]map[ukey]op{}, inflight: map[int64]map[ukey]op{}, snaps: map[int64]*snapshot{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *Service) loop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.WriteInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.Flush(ctx)
			cancel()
			s.sweep()
		}
	}
}

// Close stops the writer and writes what is pending, retrying until ctx ends.
func (s *Service) Close(ctx context.Context) {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	for s.Flush(ctx) != nil {
		select {
		case <-ctx.Done():
			s.log.ErrorContext(ctx, "reactions not written at shutdown", "messages", s.Pending())
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Pending counts the messages with unwritten changes.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Flush writes the pending changes now, as one batch. On failure they stay pending (unless changed again
// meanwhile) and the error is returned.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.inflight, s.pending = s.pending, map[int64]map[ukey]op{}
	var batch []model.ReactionChange
	for msg, ops := range s.inflight {
		for k, o := range ops {
			batch = append(batch, model.ReactionChange{ChannelID: o.channel, MessageID: msg, UserID: k.user, Emoji: k.emoji, Add: o.add, At: o.at})
		}
	}
	s.mu.Unlock()

	err := s.store.Apply(ctx, batch)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.WarnContext(ctx, "reactions not written; will retry", "changes", len(batch), "err", err)
		for msg, ops := range s.inflight {
			for k, o := range ops {
				if _, newer := s.pending[msg][k]; !newer {
					s.pendingFor(msg)[k] = o
				}
			}
		}
	} else {
		for msg, ops := range s.inflight {
			if sn := s.snaps[msg]; sn != nil {
				s.snaps[msg] = &snapshot{reactions: applyOps(sn.reactions, ops), at: sn.at}
			}
		}
		s.gen++
	}
	s.inflight = map[int64]map[ukey]op{}
	return err
}

func (s *Service) pendingFor(msg int64) map[ukey]op {
	m := s.pending[msg]
	if m == nil {
		m = map[ukey]op{}
		s.pending[msg] = m
	}
	return m
}

// sweep forgets stored reactions read too long ago.
func (s *Service) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, sn := range s.snaps {
		if now.Sub(sn.at) >= s.cfg.CacheTTL {
			delete(s.snaps, id)
		}
	}
}

// applyOps returns rs with the changes applied in time order: a new user goes last in their emoji's list, a new
// emoji last on the message, an emoji whose last user left disappears. rs is not modified.
func applyOps(rs []model.Reaction, ops map[ukey]op) []model.Reaction {
	out := make([]model.Reaction, len(rs))
	for i, r := range rs {
		r.UserIDs = slices.Clone(r.UserIDs)
		out[i] = r
	}
	if len(ops) == 0 {
		return out
	}
	keys := make([]ukey, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ukey) int {
		if c := ops[a].at.Compare(ops[b].at); c != 0 {
			return c
		}
		if a.user != b.user {
			return cmp64(a.user, b.user)
		}
		return cmpString(a.emoji, b.emoji)
	})
	for _, k := range keys {
		o := ops[k]
		i := slices.IndexFunc(out, func(r model.Reaction) bool { return r.Emoji == k.emoji })
		switch {
		case o.add && i < 0:
			out = append(out, model.Reaction{ChannelID: o.channel, Emoji: k.emoji, UserIDs: []int64{k.user}})
		case o.add && !slices.Contains(out[i].UserIDs, k.user):
			out[i].UserIDs = append(out[i].UserIDs, k.user)
		case !o.add && i >= 0:
			if j := slices.Index(out[i].UserIDs, k.user); j >= 0 {
				out[i].UserIDs = slices.Delete(out[i].UserIDs, j, j+1)
				if len(out[i].UserIDs) == 0 {
					out = slices.Delete(out, i, i+1)
				}
			}
		}
	}
	return out
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// viewLocked is a message's current reactions: stored, then the batch being written, then pending changes.
func (s *Service) viewLocked(msg int64, stored []model.Reaction) []model.Reaction {
	ops := map[ukey]op{}
	for k, o := range s.inflight[msg] {
		ops[k] = o
	}
	for k, o := range s.pending[msg] {
		ops[k] = o
	}
	return applyOps(stored, ops)
}

// stored returns the stored reactions of messages, from memory when read recently, else with one store read.
func (s *Service) stored(ctx context.Context, ids []int64) (map[int64][]model.Reaction, error) {
	for attempt := 0; ; attempt++ {
		out := make(map[int64][]model.Reaction, len(ids))
		var missing []int64
		s.mu.Lock()
		now := s.now()
		for _, id := range ids {
			if sn := s.snaps[id]; sn != nil && now.Sub(sn.at) < s.cfg.CacheTTL {
				out[id] = sn.reactions
			} else {
				missing = append(missing, id)
			}
		}
		gen := s.gen
		s.mu.Unlock()
		if len(missing) == 0 {
			return out, nil
		}
		got, err := s.store.ForMessages(ctx, missing)
		if err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, err, "reactions are unavailable right now")
		}
		s.mu.Lock()
		if s.gen != gen && attempt < 2 {
			// A batch landed while we read: our read may predate it, and it is no longer pending. Read again.
			s.mu.Unlock()
			continue
		}
		if len(s.snaps) > maxCached {
			s.snaps = map[int64]*snapshot{}
		}
		byMsg := map[int64][]model.Reaction{}
		for _, r := range got {
			byMsg[r.MessageID] = append(byMsg[r.MessageID], r)
		}
		for _, id := range missing {
			s.snaps[id] = &snapshot{reactions: byMsg[id], at: now}
			out[id] = byMsg[id]
		}
		s.mu.Unlock()
		return out, nil
	}
}

func (s *Service) summary(r model.Reaction, viewer int64) Summary {
	return Summary{Emoji: r.Emoji, Count: len(r.UserIDs), Me: slices.Contains(r.UserIDs, viewer),
		UserIDs: slices.Clone(r.UserIDs[:min(len(r.UserIDs), s.cfg.PreviewUsers)])}
}

// check validates a request on one message: the emoji, that the user may read the channel (and, to add, that
// the gate lets them write in it) and that the message is there.
func (s *Service) check(ctx context.Context, userID, channelID, messageID int64, emoji string, add bool) error {
	if !ValidEmoji(emoji) {
		return apperr.InvalidField("emoji", "emoji must be one Unicode emoji (at most 16 code points)")
	}
	ch, _, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return err
	}
	if add && s.cfg.Gate != nil {
		if err := s.cfg.Gate.CanSend(ctx, userID, ch); err != nil {
			return err
		}
	}
	_, err = s.msgs.Message(ctx, channelID, messageID)
	return err
}

// Add adds the user's reaction (idempotent: adding it again changes nothing and announces nothing).
func (s *Service) Add(ctx context.Context, userID, channelID, messageID int64, emoji string) (Summary, error) {
	ctx, span := tracing.Start(ctx, "reactions.Add")
	defer span.End()
	return s.change(ctx, userID, channelID, messageID, emoji, true)
}

// Remove removes the user's reaction (idempotent).
func (s *Service) Remove(ctx context.Context, userID, channelID, messageID int64, emoji string) (Summary, error) {
	ctx, span := tracing.Start(ctx, "reactions.Remove")
	defer span.End()
	return s.change(ctx, userID, channelID, messageID, emoji, false)
}

func (s *Service) change(ctx context.Context, userID, channelID, messageID int64, emoji string, add bool) (Summary, error) {
	if ok, wait := s.limiter.Allow(strconv.FormatInt(userID, 10)); !ok {
		return Summary{}, apperr.RateLimit(wait)
	}
	if err := s.check(ctx, userID, channelID, messageID, emoji, add); err != nil {
		return Summary{}, err
	}
	stored, err := s.stored(ctx, []int64{messageID})
	if err != nil {
		return Summary{}, err
	}
	s.mu.Lock()
	cur := s.viewLocked(messageID, stored[messageID])
	i := slices.IndexFunc(cur, func(r model.Reaction) bool { return r.Emoji == emoji })
	has := i >= 0 && slices.Contains(cur[i].UserIDs, userID)
	if has == add { // nothing to do
		s.mu.Unlock()
		if i < 0 {
			return Summary{Emoji: emoji}, nil
		}
		return s.summary(cur[i], userID), nil
	}
	if add && i < 0 && len(cur) >= s.cfg.MaxEmoji {
		s.mu.Unlock()
		return Summary{}, apperr.New(apperr.Conflict, "a message can have at most "+strconv.Itoa(s.cfg.MaxEmoji)+" different reactions")
	}
	s.pendingFor(messageID)[ukey{userID, emoji}] = op{channel: channelID, add: add, at: s.now()}
	next := s.viewLocked(messageID, stored[messageID])
	s.mu.Unlock()

	sum := Summary{Emoji: emoji}
	if j := slices.IndexFunc(next, func(r model.Reaction) bool { return r.Emoji == emoji }); j >= 0 {
		sum = s.summary(next[j], userID)
	}
	s.notify.ReactionChanged(Update{ChannelID: channelID, MessageID: messageID, Emoji: emoji, Count: sum.Count, UserID: userID,
		Added: add, UserIDs: sum.UserIDs})
	return sum, nil
}

// ForMessages returns the reactions of messages of one channel as the user sees them (history pages).
// Messages without reactions are absent from the map.
func (s *Service) ForMessages(ctx context.Context, userID, channelID int64, messageIDs []int64) (map[int64][]Summary, error) {
	ctx, span := tracing.Start(ctx, "reactions.ForMessages")
	defer span.End()
	if len(messageIDs) == 0 {
		return map[int64][]Summary{}, nil
	}
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return nil, err
	}
	stored, err := s.stored(ctx, messageIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]Summary, len(messageIDs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range messageIDs {
		for _, r := range s.viewLocked(id, stored[id]) {
			out[id] = append(out[id], s.summary(r, userID))
		}
	}
	return out, nil
}

// Users pages through who reacted to a message with an emoji, by user id: up to limit (1-100) ids greater
// than after, and whether more follow.
func (s *Service) Users(ctx context.Context, userID, channelID, messageID int64, emoji string, after int64, limit int) ([]int64, bool, error) {
	ctx, span := tracing.Start(ctx, "reactions.Users")
	defer span.End()
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	if err := s.check(ctx, userID, channelID, messageID, emoji, false); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	ops := map[int64]bool{} // users whose reaction with this emoji is being written or pending: added?
	for _, m := range []map[ukey]op{s.inflight[messageID], s.pending[messageID]} {
		for k, o := range m {
			if k.emoji == emoji {
				ops[k.user] = o.add
			}
		}
	}
	s.mu.Unlock()
	// Ask for enough that pending removals cannot leave the page short while more are stored.
	ids, err := s.store.Users(ctx, messageID, emoji, after, limit+1+len(ops))
	if err != nil {
		return nil, false, apperr.Wrap(apperr.Unavailable, err, "reactions are unavailable right now")
	}
	ids = slices.DeleteFunc(ids, func(id int64) bool { added, ok := ops[id]; return ok && !added })
	for u, added := range ops {
		if added && u > after && !slices.Contains(ids, u) {
			ids = append(ids, u)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		return ids[:limit], true, nil
	}
	return ids, false, nil
}
