// Package presence tracks who is online. A user is online while any of their sockets is connected (on any
// server node) and not idle, idle when every connected client says so, and offline a short grace period
// after the last socket closes, so a page reload does not flicker. State lives in MongoDB, one entry per user
// and node; writes are coalesced, each node heartbeats (one document per node), and entries of a node that
// died are swept.
//
// Announcements are paced per room. Every change reaches the user's DMs and small servers at the next
// AnnounceEvery tick (250 ms). A server room that announced recently waits until
// max(AnnounceEvery, members × AnnouncePerMember), at most AnnounceMaxEvery, has passed since its last
// announcement, and then sends everything that changed meanwhile (the latest state per user) at once. A quiet
// room announces its first change at the next tick whatever its size. So a server room costs at most about
// 1/AnnouncePerMember socket deliveries per second (1,000/s by default, for rooms up to 10,000 members), a
// member receives at most one presence event per interval from it, and a burst of T seconds in a room of N
// members costs about N + T/AnnouncePerMember deliveries instead of N per 250 ms window (or N² unbatched).
package presence

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/coalesce"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Store persists per-node presence (MongoDB).
type Store interface {
	Put(ctx context.Context, entries []model.NodePresence) error
	Heartbeat(ctx context.Context, nodeID int64, now time.Time) error
	SweepStale(ctx context.Context, before time.Time) ([]int64, error)
	SweepNode(ctx context.Context, nodeID int64, before time.Time) ([]int64, error)
	ForUsers(ctx context.Context, userIDs []int64) ([]model.NodePresence, error)
}

// Audience says who may see a user's presence: members of their servers and DMs.
type Audience interface {
	ServerIDs(ctx context.Context, userID int64) ([]int64, error)
	DMChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error)
	// ServerSizes returns the member count of each given server; servers that do not exist are left out.
	ServerSizes(ctx context.Context, serverIDs []int64) (map[int64]int, error)
}

// Announcement is one user's new presence and who may see it.
type Announcement struct {
	Presence     model.Presence
	ServerIDs    []int64
	DMChannelIDs []int64
}

// Notifier announces presence changes to the rooms of the users' servers and DMs. Changes arrive in batches
// (every AnnounceEvery at most), each Announcement naming only the rooms that are due now: a large busy server
// room is paced (see the package comment), so the same user may be announced to their DMs in one batch and to
// a large server a few seconds later (always with their latest state). Deliveries stay O(members) when
// thousands of members of one server connect at once.
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
	AnnounceEvery  time.Duration // changes are announced in batches this often (DMs, small and quiet servers)
	// A server room announces at most once per members × AnnouncePerMember (default 1 ms), bounded by
	// [AnnounceEvery, AnnounceMaxEvery] (default 10 s): about 1/AnnouncePerMember deliveries per second per room.
	AnnouncePerMember time.Duration
	AnnounceMaxEvery  time.Duration
	SizeTTL           time.Duration // how long a server's member count is reused (default 1 minute)
	// Swept hears about every sweep of dead nodes' entries (nil: nothing).
	Swept func(err error)
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
	if c.AnnouncePerMember <= 0 {
		c.AnnouncePerMember = time.Millisecond
	}
	if c.AnnounceMaxEvery <= 0 {
		c.AnnounceMaxEvery = 10 * time.Second
	}
	c.AnnounceMaxEvery = max(c.AnnounceMaxEvery, c.AnnounceEvery)
	if c.SizeTTL <= 0 {
		c.SizeTTL = time.Minute
	}
}

type userState struct {
	sockets   map[string]string // socket id → "online", "idle", "dnd" or "invisible" (what that client says)
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
	dirty   *coalesce.Writer[int64, model.NodePresence] // latest state per user, not yet written
	pending map[int64]model.Presence                    // changes waiting for the next announcement batch (latest per user)

	// Touched only by the announcing goroutine (loop), never under mu.
	rooms map[int64]*serverRoom // server rooms that announced recently or hold deferred changes
	held  map[int64][]int64     // user → server rooms holding a deferred change of theirs
	sizes map[int64]roomSize    // member counts of server rooms, reused for SizeTTL

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// serverRoom is a server room's announcement pacing state.
type serverRoom struct {
	pending  map[int64]model.Presence // latest change per user not yet announced to this room
	lastSent time.Time                // zero: not announced since this node started tracking the room
}

type roomSize struct {
	members int
	at      time.Time
}

// New builds the service and starts its background work (writes, heartbeats, sweeps, announcements).
func New(store Store, audience Audience, notify Notifier, cfg Config, log *slog.Logger) *Service {
	s := newService(store, audience, notify, cfg, log)
	s.dirty.Start(s.cfg.FlushEvery)
	go s.loop()
	return s
}

// newService builds the service without starting its background work (tests drive announce directly).
func newService(store Store, audience Audience, notify Notifier, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	return &Service{store: store, audience: audience, notify: notify, cfg: cfg, log: log, now: time.Now,
		users: map[int64]*userState{}, pending: map[int64]model.Presence{},
		dirty: coalesce.New[int64](coalesce.Config[model.NodePresence]{Write: store.Put,
			Merge:  func(_, newer model.NodePresence) model.NodePresence { return newer }, // only the last state counts
			OnFail: func(n int, err error) { log.Warn("presence not written; will retry", "users", n, "err", err) }}),
		rooms: map[int64]*serverRoom{}, held: map[int64][]int64{}, sizes: map[int64]roomSize{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// statusOf is a user's own status over their sockets on this node: a chosen status (invisible, then do not
// disturb) wins over activity, and the user is idle only when every client says so. Every tab is told the choice
// (settings:update), so they agree but for a moment.
func statusOf(st *userState) string {
	if len(st.sockets) == 0 {
		return model.StatusOffline
	}
	best := model.StatusOffline
	for _, v := range st.sockets {
		if rank[v] > rank[best] {
			best = v
		}
	}
	return best
}

// visible is what others see of a status: invisible is offline to everyone but the user.
func visible(status string) string {
	if status == model.StatusInvisible {
		return model.StatusOffline
	}
	return status
}

// validStatus is what a client may say about itself.
func validStatus(status string) bool {
	switch status {
	case model.StatusOnline, model.StatusIdle, model.StatusDND, model.StatusInvisible:
		return true
	}
	return false
}

// Connected records a new socket of a user (online until it says otherwise).
func (s *Service) Connected(userID int64, socketID string) {
	s.ConnectedAs(userID, socketID, model.StatusOnline)
}

// ConnectedAs records a new socket that starts with the given status (the client's chosen status, from the
// handshake, so an invisible user never shows online for a moment); anything invalid counts as online.
func (s *Service) ConnectedAs(userID int64, socketID, status string) {
	if !validStatus(status) {
		status = model.StatusOnline
	}
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
	st.sockets[socketID] = status
	s.updateLocked(userID, st)
	s.mu.Unlock()
}

// SetStatus records what a client says: online or idle (activity), or the user's chosen dnd or invisible.
func (s *Service) SetStatus(userID int64, socketID, status string) error {
	if !validStatus(status) {
		return apperr.InvalidField("status", `status must be "online", "idle", "dnd" or "invisible"`)
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
	s.dirty.Add(userID, model.NodePresence{UserID: userID, NodeID: s.cfg.NodeID, Status: model.StatusOffline, LastSeen: st.lastSeen, HeartbeatAt: st.lastSeen})
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
	wasVisible := visible(st.announced)
	st.announced = status
	// The store keeps the real status (other nodes combine it); others are told only what they may see.
	s.dirty.Add(userID, model.NodePresence{UserID: userID, NodeID: s.cfg.NodeID, Status: status, LastSeen: now, HeartbeatAt: now})
	if visible(status) != wasVisible {
		s.pending[userID] = model.Presence{UserID: userID, Status: visible(status), LastSeen: now}
	}
}

// queue schedules a change for the next announcement batch.
func (s *Service) queue(p model.Presence) {
	s.mu.Lock()
	s.pending[p.UserID] = p
	s.mu.Unlock()
}

// announce sends what is due at time now: every change queued since the last call goes to the user's DMs at
// once and into each of the user's server rooms; each server room with changes then announces them if its
// pacing interval has passed since its last announcement, or keeps them for a later call. A room only ever
// holds a user's latest state, so a late announcement is never older than one already sent elsewhere. Only the
// loop goroutine calls it.
func (s *Service) announce(now time.Time) {
	s.mu.Lock()
	var pending map[int64]model.Presence
	if len(s.pending) > 0 {
		pending, s.pending = s.pending, map[int64]model.Presence{}
	}
	s.mu.Unlock()
	if len(pending) == 0 && len(s.rooms) == 0 && len(s.sizes) == 0 {
		return // idle: nothing queued, held or remembered
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out := map[int64]*Announcement{}
	entry := func(p model.Presence) *Announcement {
		a, ok := out[p.UserID]
		if !ok {
			a = &Announcement{Presence: p}
			out[p.UserID] = a
		}
		return a
	}
	for _, p := range pending {
		servers, err := s.audience.ServerIDs(ctx, p.UserID)
		var dms []int64
		if err == nil {
			dms, err = s.audience.DMChannelIDs(ctx, p.UserID)
		}
		// Rooms the user is no longer in (or cannot be checked now) drop the older state they were holding.
		for _, id := range s.held[p.UserID] {
			if r := s.rooms[id]; r != nil && (err != nil || !slices.Contains(servers, id)) {
				delete(r.pending, p.UserID)
			}
		}
		delete(s.held, p.UserID)
		if err != nil {
			s.log.WarnContext(ctx, "presence not announced", "user", p.UserID, "err", err)
			continue
		}
		if len(dms) > 0 || len(servers) == 0 {
			entry(p).DMChannelIDs = dms // DMs are small: never paced; a user in nothing still reaches their own tabs
		}
		for _, id := range servers {
			r := s.rooms[id]
			if r == nil {
				r = &serverRoom{pending: map[int64]model.Presence{}}
				s.rooms[id] = r
			}
			r.pending[p.UserID] = p
		}
		if len(servers) > 0 {
			s.held[p.UserID] = slices.Clone(servers)
		}
	}
	s.refreshSizes(ctx, now)
	for id, r := range s.rooms {
		if len(r.pending) == 0 {
			if now.Sub(r.lastSent) >= s.cfg.AnnounceMaxEvery {
				delete(s.rooms, id) // quiet for longer than any interval: the next change is due at once anyway
			}
			continue
		}
		if !r.lastSent.IsZero() && now.Sub(r.lastSent) < s.interval(id)-s.cfg.AnnounceEvery/2 {
			continue // announced recently: keep collecting (half a tick of slack absorbs ticker jitter)
		}
		for uid, p := range r.pending {
			a := entry(p)
			a.ServerIDs = append(a.ServerIDs, id)
			if rest := slices.DeleteFunc(s.held[uid], func(x int64) bool { return x == id }); len(rest) > 0 {
				s.held[uid] = rest
			} else {
				delete(s.held, uid)
			}
		}
		r.pending = map[int64]model.Presence{}
		r.lastSent = now
	}
	for id, sz := range s.sizes {
		if _, live := s.rooms[id]; !live && now.Sub(sz.at) >= s.cfg.SizeTTL {
			delete(s.sizes, id)
		}
	}
	if len(out) == 0 {
		return
	}
	batch := make([]Announcement, 0, len(out))
	for _, a := range out {
		slices.Sort(a.ServerIDs)
		batch = append(batch, *a)
	}
	slices.SortFunc(batch, func(a, b Announcement) int { return cmp.Compare(a.Presence.UserID, b.Presence.UserID) })
	s.notify.PresenceChanged(batch)
}

// interval is how long a server room waits between announcements: members × AnnouncePerMember, within
// [AnnounceEvery, AnnounceMaxEvery]. A room of unknown size counts as small.
func (s *Service) interval(serverID int64) time.Duration {
	d := time.Duration(s.sizes[serverID].members) * s.cfg.AnnouncePerMember
	return min(max(d, s.cfg.AnnounceEvery), s.cfg.AnnounceMaxEvery)
}

// refreshSizes looks up the member counts the pacing decision needs: those of rooms with changes that
// announced within AnnounceMaxEvery and whose count is unknown or older than SizeTTL. A quiet room is due
// whatever its size, so most small servers are never looked up.
func (s *Service) refreshSizes(ctx context.Context, now time.Time) {
	var ids []int64
	for id, r := range s.rooms {
		if len(r.pending) == 0 || r.lastSent.IsZero() || now.Sub(r.lastSent) >= s.cfg.AnnounceMaxEvery {
			continue
		}
		if sz, ok := s.sizes[id]; !ok || now.Sub(sz.at) >= s.cfg.SizeTTL {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	sizes, err := s.audience.ServerSizes(ctx, ids)
	if err != nil {
		s.log.WarnContext(ctx, "server sizes unknown; pacing presence with the last known ones", "servers", len(ids), "err", err)
	}
	for _, id := range ids {
		if n, ok := sizes[id]; ok {
			s.sizes[id] = roomSize{members: n, at: now}
		} else if err == nil {
			s.sizes[id] = roomSize{members: 0, at: now} // the server is gone: nobody left to pace for
		}
	}
}

// rank orders statuses when a user's sockets or nodes disagree: a choice (invisible, dnd) over activity.
var rank = map[string]int{model.StatusOffline: 0, model.StatusIdle: 1, model.StatusOnline: 2, model.StatusDND: 3, model.StatusInvisible: 4}

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
	ctx, span := tracing.Start(ctx, "presence.Get")
	defer span.End()
	if len(userIDs) > 200 {
		return nil, apperr.InvalidField("userIds", "ask for at most 200 users at once")
	}
	visibleIDs := userIDs
	if !(len(userIDs) == 1 && userIDs[0] == caller) {
		var err error
		if visibleIDs, err = s.audience.SharedUserIDs(ctx, caller, userIDs); err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, err, "presence is unavailable right now")
		}
		if slices.Contains(userIDs, caller) && !slices.Contains(visibleIDs, caller) {
			visibleIDs = append(visibleIDs, caller)
		}
	}
	entries, err := s.store.ForUsers(ctx, visibleIDs)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "presence is unavailable right now")
	}
	fresh := s.now().Add(-s.cfg.StaleAfter)
	out := map[int64]model.Presence{}
	for _, id := range visibleIDs {
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
	for _, id := range visibleIDs {
		p := out[id]
		if id != caller && p.Status == model.StatusInvisible {
			// Shown as offline, and without a "last seen" that would move while they are really there.
			p = model.Presence{UserID: id, Status: model.StatusOffline}
		}
		res = append(res, p)
	}
	return res, nil
}

func (s *Service) loop() {
	defer close(s.done)
	beat := time.NewTicker(s.cfg.HeartbeatEvery)
	defer beat.Stop()
	sweep := time.NewTicker(s.cfg.SweepEvery)
	defer sweep.Stop()
	announce := time.NewTicker(s.cfg.AnnounceEvery)
	defer announce.Stop()
	lastBeat := s.heartbeat(time.Time{}) // at once: the node's entries are judged by it from their first write
	for {
		select {
		case <-s.stop:
			return
		case now := <-announce.C:
			s.announce(now)
		case <-beat.C:
			lastBeat = s.heartbeat(lastBeat)
		case <-sweep.C:
			s.Sweep(context.Background())
		}
	}
}

// heartbeat tells the store this node is alive and returns the time of the last heartbeat that was stored. After a
// gap of half StaleAfter or more (the node was paused, or MongoDB away), another node may have swept this node's
// entries to offline while its users stayed connected: every connected user's entry is written again.
func (s *Service) heartbeat(last time.Time) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.now().UTC()
	if err := s.store.Heartbeat(ctx, s.cfg.NodeID, now); err != nil {
		s.log.WarnContext(ctx, "presence heartbeat failed", "err", err)
		return last
	}
	if !last.IsZero() && now.Sub(last) >= s.cfg.StaleAfter/2 {
		s.mu.Lock()
		n := 0
		for id, st := range s.users {
			if status := statusOf(st); status != model.StatusOffline {
				s.dirty.Add(id, model.NodePresence{UserID: id, NodeID: s.cfg.NodeID, Status: status, LastSeen: now, HeartbeatAt: now})
				n++
			}
		}
		s.mu.Unlock()
		s.log.WarnContext(ctx, "presence heartbeat was late; this node's entries are written again", "gap", now.Sub(last), "users", n)
	}
	return now
}

// Sweep turns the entries of dead nodes offline and announces the users who are now offline everywhere.
func (s *Service) Sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	users, err := s.store.SweepStale(ctx, s.now().Add(-s.cfg.StaleAfter))
	if s.cfg.Swept != nil {
		s.cfg.Swept(err)
	}
	if err != nil {
		s.log.WarnContext(ctx, "presence sweep failed", "err", err)
		return
	}
	for _, id := range users {
		if p, err := s.aggregate(ctx, id); err == nil && p.Status == model.StatusOffline {
			s.queue(p)
		}
	}
}

// NodeGone turns the users of a node whose lease ended (several nodes) offline at once, instead of after
// StaleAfter without heartbeats, and announces those who are now offline everywhere.
func (s *Service) NodeGone(nodeID int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users, err := s.store.SweepNode(ctx, nodeID, s.now())
	if err != nil {
		s.log.WarnContext(ctx, "presence of a departed node not cleared; the stale sweep will", "node", nodeID, "err", err)
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
		s.dirty.Add(id, model.NodePresence{UserID: id, NodeID: s.cfg.NodeID, Status: model.StatusOffline, LastSeen: now, HeartbeatAt: now})
	}
	s.users = map[int64]*userState{}
	s.mu.Unlock()
	_ = s.dirty.Close(context.Background())
}
