// Package presence tracks who is online. A user is online while any of their sockets is connected (on any
// server node) and not idle, idle when every connected client says so, and offline a short grace period
// after the last socket closes, so a page reload does not flicker. State lives in MongoDB, one entry per user
// and node; writes are coalesced, nodes heartbeat their entries, and entries of a node that died are swept.
package presence

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// Store persists per-node presence (MongoDB).
type Store interface {
	Put(ctx context.Context, entries []model.NodePresence) error
	Heartbeat(ctx context.Context, nodeID int64, now time.Time) error
	SweepStale(ctx context.Context, before time.Time) ([]int64, error)
	ForUsers(ctx context.Context, userIDs []int64) ([]model.NodePresence, error)
}

// Audience says who may see a user's presence: members of their servers and DMs.
type Audience interface {
	ServerIDs(ctx context.Context, userID int64) ([]int64, error)
	DMChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error)
}

// Announcement is one user's new presence and who may see it.
type Announcement struct {
	Presence     model.Presence
	ServerIDs    []int64
	DMChannelIDs []int64
}

// Notifier announces presence changes to the rooms of the users' servers and DMs. Changes arrive in batches
// (every AnnounceEvery), so a server where thousands connect at once gets a few batched events per window
// instead of one event per member per member.
type Notifier interface {
	PresenceChanged(batch []Announcement)
}

// Config tunes timing.
type Config struct {
	NodeID         int64
	Grace          time.Duration // offline only after this long without sockets
	FlushEvery     time.Duration // coalesced writes
	HeartbeatEvery time.Duration
	StaleAfter     time.Duration // a node silent this long is considered dead
	SweepEvery     time.Duration
	AnnounceEvery  time.Duration // changes are announced in batches this often
}

func (c *Config) defaults() {
	if c.Grace <= 0 {
		c.Grace = 5 * time.Second
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = 20 * time.Second
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 90 * time.Second
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 30 * time.Second
	}
	if c.AnnounceEvery <= 0 {
		c.AnnounceEvery = 250 * time.Millisecond
	}
}

type userState struct {
	sockets   map[string]string // socket id → "online" or "idle"
	announced string            // last status announced
	lastSeen  time.Time
	offline   *time.Timer
}

// Service implements presence for one node.
type Service struct {
	store    Store
	audience Audience
	notify   Notifier
	cfg      Config
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	users   map[int64]*userState
	dirty   map[int64]model.NodePresence
	pending map[int64]model.Presence // changes waiting for the next announcement batch (latest per user)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New builds the service and starts its background work (writes, heartbeats, sweeps).
func New(store Store, audience Audience, notify Notifier, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	s := &Service{store: store, audience: audience, notify: notify, cfg: cfg, log: log, now: time.Now,
		users: map[int64]*userState{}, dirty: map[int64]model.NodePresence{}, pending: map[int64]model.Presence{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func statusOf(st *userState) string {
	if len(st.sockets) == 0 {
		return model.StatusOffline
	}
	for _, v := range st.sockets {
		if v == model.StatusOnline {
			return model.StatusOnline
		}
	}
	return model.StatusIdle
}

// Connected records a new socket of a user.
func (s *Service) Connected(userID int64, socketID string) {
	s.mu.Lock()
	st, ok := s.users[userID]
	if !ok {
		st = &userState{sockets: map[string]string{}, announced: model.StatusOffline}
		s.users[userID] = st
	}
	if st.offline != nil {
		st.offline.Stop() // back within the grace period: nobody ever saw this user go offline
		st.offline = nil
	}
	st.sockets[socketID] = model.StatusOnline
	s.updateLocked(userID, st)
	s.mu.Unlock()
}

// SetStatus records what a client says (online or idle).
func (s *Service) SetStatus(userID int64, socketID, status string) error {
	if status != model.StatusOnline && status != model.StatusIdle {
		return apperr.InvalidField("status", "status must be online or idle")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[userID]
	if !ok {
		return nil
	}
	if _, ok := st.sockets[socketID]; !ok {
		return nil
	}
	st.sockets[socketID] = status
	s.updateLocked(userID, st)
	return nil
}

// Disconnected records a closed socket; the user goes offline after the grace period if none is left.
func (s *Service) Disconnected(userID int64, socketID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[userID]
	if !ok {
		return
	}
	delete(st.sockets, socketID)
	if len(st.sockets) > 0 {
		s.updateLocked(userID, st)
		return
	}
	if st.offline == nil {
		st.offline = time.AfterFunc(s.cfg.Grace, func() { s.goOffline(userID) })
	}
}

func (s *Service) goOffline(userID int64) {
	s.mu.Lock()
	st, ok := s.users[userID]
	if !ok || len(st.sockets) > 0 {
		s.mu.Unlock()
		return
	}
	st.offline = nil
	st.lastSeen = s.now().UTC()
	s.dirty[userID] = model.NodePresence{UserID: userID, NodeID: s.cfg.NodeID, Status: model.StatusOffline, LastSeen: st.lastSeen, HeartbeatAt: st.lastSeen}
	delete(s.users, userID)
	s.mu.Unlock()
	// Another node may still hold sockets of this user: announce offline only if none does.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if p, err := s.aggregate(ctx, userID); err == nil && p.Status == model.StatusOffline {
			s.queue(p)
		}
	}()
}

// updateLocked recomputes a user's status and, when it changed, schedules the write and the announcement.
func (s *Service) updateLocked(userID int64, st *userState) {
	status := statusOf(st)
	now := s.now().UTC()
	st.lastSeen = now
	if status == st.announced {
		return
	}
	st.announced = status
	s.dirty[userID] = model.NodePresence{UserID: userID, NodeID: s.cfg.NodeID, Status: status, LastSeen: now, HeartbeatAt: now}
	s.pending[userID] = model.Presence{UserID: userID, Status: status, LastSeen: now}
}

// queue schedules a change for the next announcement batch.
func (s *Service) queue(p model.Presence) {
	s.mu.Lock()
	s.pending[p.UserID] = p
	s.mu.Unlock()
}

// announcePending sends the changes queued since the last batch, each to its user's servers and DMs.
func (s *Service) announcePending() {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	pending := s.pending
	s.pending = map[int64]model.Presence{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch := make([]Announcement, 0, len(pending))
	for _, p := range pending {
		servers, err := s.audience.ServerIDs(ctx, p.UserID)
		if err != nil {
			s.log.Warn("presence not announced", "user", p.UserID, "err", err)
			continue
		}
		dms, err := s.audience.DMChannelIDs(ctx, p.UserID)
		if err != nil {
			s.log.Warn("presence not announced", "user", p.UserID, "err", err)
			continue
		}
		batch = append(batch, Announcement{Presence: p, ServerIDs: servers, DMChannelIDs: dms})
	}
	if len(batch) > 0 {
		s.notify.PresenceChanged(batch)
	}
}

var rank = map[string]int{model.StatusOffline: 0, model.StatusIdle: 1, model.StatusOnline: 2}

// aggregate combines every node's entry for a user (fresh ones only) with this node's live state.
func (s *Service) aggregate(ctx context.Context, userID int64) (model.Presence, error) {
	ps, err := s.Get(ctx, userID, []int64{userID})
	if err != nil || len(ps) == 0 {
		return model.Presence{UserID: userID, Status: model.StatusOffline}, err
	}
	return ps[0], nil
}

// Get returns the presence of the given users that the caller shares a server or DM with (others are left
// out, like users who do not exist).
func (s *Service) Get(ctx context.Context, caller int64, userIDs []int64) ([]model.Presence, error) {
	if len(userIDs) > 200 {
		return nil, apperr.InvalidField("userIds", "ask for at most 200 users at once")
	}
	visible := userIDs
	if !(len(userIDs) == 1 && userIDs[0] == caller) {
		var err error
		if visible, err = s.audience.SharedUserIDs(ctx, caller, userIDs); err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, err, "presence is unavailable right now")
		}
		if slices.Contains(userIDs, caller) && !slices.Contains(visible, caller) {
			visible = append(visible, caller)
		}
	}
	entries, err := s.store.ForUsers(ctx, visible)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "presence is unavailable right now")
	}
	fresh := s.now().Add(-s.cfg.StaleAfter)
	out := map[int64]model.Presence{}
	for _, id := range visible {
		out[id] = model.Presence{UserID: id, Status: model.StatusOffline}
	}
	for _, e := range entries {
		p := out[e.UserID]
		status := e.Status
		if e.NodeID == s.cfg.NodeID || e.HeartbeatAt.Before(fresh) {
			status = model.StatusOffline // this node's entries come from memory below; dead nodes count as offline
		}
		if rank[status] > rank[p.Status] {
			p.Status = status
		}
		if e.LastSeen.After(p.LastSeen) {
			p.LastSeen = e.LastSeen
		}
		out[e.UserID] = p
	}
	s.mu.Lock()
	for id, p := range out {
		if st, ok := s.users[id]; ok {
			if status := statusOf(st); rank[status] > rank[p.Status] {
				p.Status = status
			}
			if st.lastSeen.After(p.LastSeen) {
				p.LastSeen = st.lastSeen
			}
			if len(st.sockets) > 0 {
				p.LastSeen = s.now().UTC()
			}
			out[id] = p
		}
	}
	s.mu.Unlock()
	res := make([]model.Presence, 0, len(out))
	for _, id := range visible {
		res = append(res, out[id])
	}
	return res, nil
}

func (s *Service) loop() {
	defer close(s.done)
	flush := time.NewTicker(s.cfg.FlushEvery)
	defer flush.Stop()
	beat := time.NewTicker(s.cfg.HeartbeatEvery)
	defer beat.Stop()
	sweep := time.NewTicker(s.cfg.SweepEvery)
	defer sweep.Stop()
	announce := time.NewTicker(s.cfg.AnnounceEvery)
	defer announce.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-announce.C:
			s.announcePending()
		case <-flush.C:
			s.flush()
		case <-beat.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.store.Heartbeat(ctx, s.cfg.NodeID, s.now().UTC()); err != nil {
				s.log.Warn("presence heartbeat failed", "err", err)
			}
			cancel()
		case <-sweep.C:
			s.Sweep(context.Background())
		}
	}
}

// flush writes the latest state of users whose status changed (only the last state per user).
func (s *Service) flush() {
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return
	}
	batch := make([]model.NodePresence, 0, len(s.dirty))
	for _, e := range s.dirty {
		batch = append(batch, e)
	}
	s.dirty = map[int64]model.NodePresence{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.Put(ctx, batch); err != nil {
		s.log.Warn("presence not written; will retry", "users", len(batch), "err", err)
		s.mu.Lock()
		for _, e := range batch {
			if _, newer := s.dirty[e.UserID]; !newer {
				s.dirty[e.UserID] = e
			}
		}
		s.mu.Unlock()
	}
}

// Sweep turns the entries of dead nodes offline and announces the users who are now offline everywhere.
func (s *Service) Sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	users, err := s.store.SweepStale(ctx, s.now().Add(-s.cfg.StaleAfter))
	if err != nil {
		s.log.Warn("presence sweep failed", "err", err)
		return
	}
	for _, id := range users {
		if p, err := s.aggregate(ctx, id); err == nil && p.Status == model.StatusOffline {
			s.queue(p)
		}
	}
}

// Close marks this node's users offline (a clean shutdown is not a crash) and stops the background work.
func (s *Service) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	now := s.now().UTC()
	for id, st := range s.users {
		if st.offline != nil {
			st.offline.Stop()
		}
		s.dirty[id] = model.NodePresence{UserID: id, NodeID: s.cfg.NodeID, Status: model.StatusOffline, LastSeen: now, HeartbeatAt: now}
	}
	s.users = map[int64]*userState{}
	s.mu.Unlock()
	s.flush()
}
