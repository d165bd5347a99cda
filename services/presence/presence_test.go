package presence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
)

// --- fakes ------------------------------------------------------------------------------------------------

// world is the fake audience: who is in which server and DM, who has a socket open, and the servers' sizes.
type world struct {
	mu         sync.Mutex
	servers    map[int64][]int64 // server → members
	dms        map[int64][]int64 // DM channel → participants
	online     map[int64]bool    // users with a connected socket (they are in their rooms)
	sizeCalls  int
	sizeErr    error
	audErr     error
	deletedSrv map[int64]bool // ServerSizes leaves these out, as for a deleted server
}

func newWorld() *world {
	return &world{servers: map[int64][]int64{}, dms: map[int64][]int64{}, online: map[int64]bool{}, deletedSrv: map[int64]bool{}}
}

func (w *world) addServer(id int64, members ...int64) {
	w.mu.Lock()
	w.servers[id] = append(w.servers[id], members...)
	w.mu.Unlock()
}

func (w *world) removeMember(serverID, userID int64) {
	w.mu.Lock()
	w.servers[serverID] = slices.DeleteFunc(w.servers[serverID], func(u int64) bool { return u == userID })
	w.mu.Unlock()
}

func (w *world) addDM(id int64, participants ...int64) {
	w.mu.Lock()
	w.dms[id] = participants
	w.mu.Unlock()
}

func (w *world) setOnline(userID int64, on bool) {
	w.mu.Lock()
	w.online[userID] = on
	w.mu.Unlock()
}

func members(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func (w *world) ServerIDs(_ context.Context, userID int64) ([]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.audErr != nil {
		return nil, w.audErr
	}
	var out []int64
	for id, ms := range w.servers {
		if slices.Contains(ms, userID) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (w *world) DMChannelIDs(_ context.Context, userID int64) ([]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int64
	for id, ps := range w.dms {
		if slices.Contains(ps, userID) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (w *world) SharedUserIDs(_ context.Context, _ int64, others []int64) ([]int64, error) {
	return others, nil
}

func (w *world) ServerSizes(_ context.Context, ids []int64) (map[int64]int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizeCalls++
	if w.sizeErr != nil {
		return nil, w.sizeErr
	}
	out := map[int64]int{}
	for _, id := range ids {
		if ms, ok := w.servers[id]; ok && !w.deletedSrv[id] {
			out[id] = len(ms)
		}
	}
	return out, nil
}

// recipients is how many sockets a room reaches now: one per connected member (one socket each here).
func (w *world) recipients(room string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var kind string
	var id int64
	_, _ = fmt.Sscanf(room, "%s %d", &kind, &id)
	count := func(users []int64) (n int) {
		for _, u := range users {
			if w.online[u] {
				n++
			}
		}
		return n
	}
	switch kind {
	case "user":
		return count([]int64{id})
	case "server":
		return count(w.servers[id])
	default:
		return count(w.dms[id])
	}
}

type event struct {
	at      time.Time
	updates []model.Presence
}

// recorder is a Notifier that groups each batch by room exactly like the socket publisher does (one event per
// room per batch) and counts socket deliveries: for each event, the sockets in that room.
type recorder struct {
	w   *world
	now func() time.Time

	mu         sync.Mutex
	deliveries int
	events     map[string][]event
	batches    [][]Announcement
}

func newRecorder(w *world, now func() time.Time) *recorder {
	return &recorder{w: w, now: now, events: map[string][]event{}}
}

func roomUser(id int64) string    { return fmt.Sprintf("user %d", id) }
func roomServer(id int64) string  { return fmt.Sprintf("server %d", id) }
func roomChannel(id int64) string { return fmt.Sprintf("channel %d", id) }

func (r *recorder) PresenceChanged(batch []Announcement) {
	byRoom := map[string][]model.Presence{}
	for _, a := range batch {
		byRoom[roomUser(a.Presence.UserID)] = append(byRoom[roomUser(a.Presence.UserID)], a.Presence)
		for _, id := range a.ServerIDs {
			byRoom[roomServer(id)] = append(byRoom[roomServer(id)], a.Presence)
		}
		for _, id := range a.DMChannelIDs {
			byRoom[roomChannel(id)] = append(byRoom[roomChannel(id)], a.Presence)
		}
	}
	at := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, batch)
	for room, ups := range byRoom {
		r.deliveries += r.w.recipients(room)
		r.events[room] = append(r.events[room], event{at: at, updates: ups})
	}
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliveries
}

// firstSeen is when a room first heard that the user has the given status (false: never).
func (r *recorder) firstSeen(room string, userID int64, status string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events[room] {
		for _, p := range e.updates {
			if p.UserID == userID && p.Status == status {
				return e.at, true
			}
		}
	}
	return time.Time{}, false
}

func (r *recorder) roomEvents(room string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events[room])
}

// lastStatus is the latest status a room was told for each user.
func (r *recorder) lastStatus(room string) map[int64]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int64]string{}
	for _, e := range r.events[room] {
		for _, p := range e.updates {
			out[p.UserID] = p.Status
		}
	}
	return out
}

type memStore struct {
	mu      sync.Mutex
	entries map[[2]int64]model.NodePresence
}

func newMemStore() *memStore { return &memStore{entries: map[[2]int64]model.NodePresence{}} }

func (m *memStore) Put(_ context.Context, es []model.NodePresence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range es {
		m.entries[[2]int64{e.UserID, e.NodeID}] = e
	}
	return nil
}

func (m *memStore) Heartbeat(context.Context, int64, time.Time) error { return nil }

func (m *memStore) SweepStale(context.Context, time.Time) ([]int64, error) { return nil, nil }

func (m *memStore) SweepNode(_ context.Context, nodeID int64, _ time.Time) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var users []int64
	for k, e := range m.entries {
		if e.NodeID == nodeID && e.Status != model.StatusOffline {
			e.Status = model.StatusOffline
			m.entries[k] = e
			users = append(users, e.UserID)
		}
	}
	return users, nil
}

func (m *memStore) ForUsers(_ context.Context, ids []int64) ([]model.NodePresence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []model.NodePresence
	for _, e := range m.entries {
		if slices.Contains(ids, e.UserID) {
			out = append(out, e)
		}
	}
	return out, nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// --- simulated time ---------------------------------------------------------------------------------------

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// sim drives a Service on a fake clock: announce runs every AnnounceEvery of simulated time, as the loop would.
type sim struct {
	w        *world
	rec      *recorder
	s        *Service
	clock    time.Time
	nextTick time.Time
}

func newSim(w *world, cfg Config) *sim {
	m := &sim{w: w, clock: t0}
	now := func() time.Time { return m.clock }
	m.rec = newRecorder(w, now)
	m.s = newService(newMemStore(), w, m.rec, cfg, discard())
	m.s.now = now
	m.nextTick = t0.Add(m.s.cfg.AnnounceEvery)
	return m
}

// advance runs every tick up to and including time at, then sets the clock to at.
func (m *sim) advance(at time.Time) {
	for !m.nextTick.After(at) {
		m.clock = m.nextTick
		m.s.announce(m.clock)
		m.nextTick = m.nextTick.Add(m.s.cfg.AnnounceEvery)
	}
	m.clock = at
}

func (m *sim) connect(userID int64) {
	m.w.setOnline(userID, true) // the socket joins its rooms before presence hears of it
	m.s.Connected(userID, fmt.Sprintf("sock-%d", userID))
}

type burstResult struct {
	deliveries  int
	connectedAt map[int64]time.Time
	m           *sim
}

// massConnect: n members of server 1 connect evenly over burst. Members 1-5 also form small server 2, and
// members 1 and 2 share DM channel 100. Runs until every pacing interval has passed.
func massConnect(cfg Config, n int, burst time.Duration) burstResult {
	w := newWorld()
	w.addServer(1, members(n)...)
	w.addServer(2, members(5)...)
	w.addDM(100, 1, 2)
	m := newSim(w, cfg)
	res := burstResult{connectedAt: map[int64]time.Time{}, m: m}
	for i := 1; i <= n; i++ {
		at := t0.Add(time.Duration(i-1) * burst / time.Duration(n))
		m.advance(at)
		m.connect(int64(i))
		res.connectedAt[int64(i)] = at
	}
	m.advance(t0.Add(burst + m.s.cfg.AnnounceMaxEvery + m.s.cfg.AnnounceEvery))
	res.deliveries = m.rec.total()
	return res
}

// legacy is the behavior before pacing: every room with changes gets a batch every 250 ms.
var legacy = Config{AnnounceEvery: 250 * time.Millisecond, AnnounceMaxEvery: 250 * time.Millisecond}

// --- the mass connect -------------------------------------------------------------------------------------

func TestMassConnectCostsLinearDeliveries(t *testing.T) {
	const n = 2000
	for _, burst := range []time.Duration{2 * time.Second, 5 * time.Second, 10 * time.Second} {
		t.Run(burst.String(), func(t *testing.T) {
			got := massConnect(Config{}, n, burst)
			old := massConnect(legacy, n, burst)
			t.Logf("%d members connecting over %v: %d socket deliveries (%.1f per member); 250 ms batches: %d (%.1f per member); one event per change (before 250 ms batching, computed): %d",
				n, burst, got.deliveries, float64(got.deliveries)/n, old.deliveries, float64(old.deliveries)/n, n*(n+1)/2+n)
			if got.deliveries > 5*n {
				t.Fatalf("%d deliveries for %d members, want at most %d (5 per member)", got.deliveries, n, 5*n)
			}
			if burst >= 5*time.Second && old.deliveries <= 5*n {
				t.Fatalf("the legacy pacing cost only %d; the measure cannot tell the difference", old.deliveries)
			}

			m := got.m
			// Correct: the big room and the small one heard every member come online, and nobody else.
			big, small := m.rec.lastStatus(roomServer(1)), m.rec.lastStatus(roomServer(2))
			if len(big) != n || len(small) != 5 {
				t.Fatalf("server 1 heard of %d members (want %d), server 2 of %d (want 5)", len(big), n, len(small))
			}
			for id, st := range big {
				if st != model.StatusOnline {
					t.Fatalf("server 1 last heard %q for %d", st, id)
				}
			}
			// Timely: the small server and the DM within a second, the big room within its interval and a tick.
			limit := map[string]time.Duration{roomServer(2): time.Second, roomChannel(100): time.Second, roomServer(1): 2*time.Second + 250*time.Millisecond}
			for room, max := range limit {
				for _, id := range []int64{1, 2, 3, 4, 5} {
					if room == roomChannel(100) && id > 2 {
						continue
					}
					at, ok := m.rec.firstSeen(room, id, model.StatusOnline)
					if !ok || at.Sub(got.connectedAt[id]) > max {
						t.Fatalf("%s saw member %d online after %v (seen %v), want within %v", room, id, at.Sub(got.connectedAt[id]), ok, max)
					}
				}
			}
			for id := int64(1); id <= n; id++ {
				at, _ := m.rec.firstSeen(roomServer(1), id, model.StatusOnline)
				if d := at.Sub(got.connectedAt[id]); d > 2*time.Second+250*time.Millisecond {
					t.Fatalf("server 1 saw member %d online %v after it connected", id, d)
				}
			}
			// Bounded per member: at most one presence event per interval from the big room.
			if ev, most := m.rec.roomEvents(roomServer(1)), int(burst/(2*time.Second))+2; ev > most {
				t.Fatalf("server 1 got %d presence events over %v, want at most %d", ev, burst, most)
			}
		})
	}
}

// With members connecting at a steady rate (so a bigger server takes longer to connect), deliveries per member
// must stay flat (O(members) in total); with 250 ms batches they grow with the server (O(members²)).
func TestMassConnectScalesLinearly(t *testing.T) {
	const rate = 400 // connects per second
	var perMember, legacyPerMember []float64
	sizes := []int{500, 1000, 2000, 4000}
	for _, n := range sizes {
		burst := time.Duration(n) * time.Second / rate
		got, old := massConnect(Config{}, n, burst), massConnect(legacy, n, burst)
		perMember = append(perMember, float64(got.deliveries)/float64(n))
		legacyPerMember = append(legacyPerMember, float64(old.deliveries)/float64(n))
		t.Logf("%5d members over %5v: %7d deliveries (%.1f per member); 250 ms batches: %8d (%.1f per member)",
			n, burst, got.deliveries, perMember[len(perMember)-1], old.deliveries, legacyPerMember[len(legacyPerMember)-1])
	}
	for i, v := range perMember {
		if v > 5 {
			t.Fatalf("%d members: %.1f deliveries per member, want at most 5", sizes[i], v)
		}
	}
	if last, first := perMember[len(perMember)-1], perMember[0]; last > 1.5*first {
		t.Fatalf("deliveries per member grew from %.1f to %.1f with 8× the members: not linear", first, last)
	}
	if last, first := legacyPerMember[len(legacyPerMember)-1], legacyPerMember[0]; last < 4*first {
		t.Fatalf("legacy per-member cost grew only from %.1f to %.1f; the scenario does not show the quadratic cost", first, last)
	}
}

// --- pacing details ---------------------------------------------------------------------------------------

func TestQuietLargeRoomAnnouncesAtOnceAndBusyOneWaits(t *testing.T) {
	w := newWorld()
	w.addServer(1, members(3000)...) // interval 3 s
	m := newSim(w, Config{})
	m.connect(1)
	m.advance(t0.Add(250 * time.Millisecond))
	if at, ok := m.rec.firstSeen(roomServer(1), 1, model.StatusOnline); !ok || !at.Equal(t0.Add(250*time.Millisecond)) {
		t.Fatalf("a quiet room must announce at the next tick, got %v %v", at, ok)
	}
	// Busy now: the next change waits until 3 s after the last announcement.
	m.advance(t0.Add(500 * time.Millisecond))
	m.connect(2)
	m.advance(t0.Add(3 * time.Second))
	if _, ok := m.rec.firstSeen(roomServer(1), 2, model.StatusOnline); ok {
		t.Fatal("announced before the room's interval passed")
	}
	m.advance(t0.Add(3250 * time.Millisecond))
	if at, ok := m.rec.firstSeen(roomServer(1), 2, model.StatusOnline); !ok || !at.Equal(t0.Add(3250*time.Millisecond)) {
		t.Fatalf("member 2 announced at %v (%v), want 3.25 s", at.Sub(t0), ok)
	}
	// The user's own room hears of member 2 with the big room (nothing else was due earlier).
	if at, ok := m.rec.firstSeen(roomUser(2), 2, model.StatusOnline); !ok || !at.Equal(t0.Add(3250*time.Millisecond)) {
		t.Fatalf("own room: %v %v", at.Sub(t0), ok)
	}
	// Only the latest state per user goes out: online then idle within one interval is one "idle".
	m.advance(t0.Add(3500 * time.Millisecond))
	_ = m.s.SetStatus(3, "x", model.StatusIdle) // unknown user: ignored
	m.connect(3)
	m.advance(t0.Add(3750 * time.Millisecond))
	if err := m.s.SetStatus(3, "sock-3", model.StatusIdle); err != nil {
		t.Fatal(err)
	}
	m.advance(t0.Add(7 * time.Second))
	if _, ok := m.rec.firstSeen(roomServer(1), 3, model.StatusOnline); ok {
		t.Fatal("a superseded state was announced")
	}
	if got := m.rec.lastStatus(roomServer(1))[3]; got != model.StatusIdle {
		t.Fatalf("member 3: %q, want idle", got)
	}
	// Quiet for longer than any interval: the room is forgotten and its size too, after SizeTTL.
	m.advance(t0.Add(20 * time.Second))
	if len(m.s.rooms) != 0 {
		t.Fatalf("rooms kept: %d", len(m.s.rooms))
	}
	m.advance(t0.Add(2 * time.Minute))
	if len(m.s.sizes) != 0 {
		t.Fatalf("sizes kept: %d", len(m.s.sizes))
	}
}

func TestSizeLookups(t *testing.T) {
	w := newWorld()
	w.addServer(1, members(2000)...)
	w.addServer(2, members(4)...)
	w.addServer(9, members(5000)...)
	w.deletedSrv[9] = true
	m := newSim(w, Config{SizeTTL: 30 * time.Second})
	// Quiet rooms are due whatever their size: no lookup.
	m.connect(1)
	m.advance(t0.Add(250 * time.Millisecond))
	if w.sizeCalls != 0 {
		t.Fatalf("%d size lookups for quiet rooms", w.sizeCalls)
	}
	// Lookups failing: the unknown size counts as small (every tick), as before pacing existed.
	w.sizeErr = errors.New("postgres down")
	m.connect(2)
	m.advance(t0.Add(500 * time.Millisecond))
	if _, ok := m.rec.firstSeen(roomServer(1), 2, model.StatusOnline); !ok {
		t.Fatal("an unknown size must not hold changes back")
	}
	// Lookups working again: the big room is paced, the small one and the deleted one are not.
	w.sizeErr = nil
	m.connect(3)
	m.advance(t0.Add(750 * time.Millisecond))
	if _, ok := m.rec.firstSeen(roomServer(1), 3, model.StatusOnline); ok {
		t.Fatal("a busy 2,000-member room announced again after 250 ms")
	}
	if _, ok := m.rec.firstSeen(roomServer(2), 3, model.StatusOnline); !ok {
		t.Fatal("a small room must not be paced")
	}
	if _, ok := m.rec.firstSeen(roomServer(9), 3, model.StatusOnline); !ok {
		t.Fatal("a deleted server's room counts as empty")
	}
	calls := w.sizeCalls
	m.connect(4)
	m.advance(t0.Add(time.Second))
	if w.sizeCalls != calls {
		t.Fatal("sizes must be reused within SizeTTL")
	}
	if m.s.sizes[1].members != 2000 || m.s.sizes[2].members != 4 || m.s.sizes[9].members != 0 {
		t.Fatalf("sizes: %+v", m.s.sizes)
	}
}

func TestAudienceFailureSkipsTheUser(t *testing.T) {
	w := newWorld()
	w.addServer(1, 1, 2)
	m := newSim(w, Config{})
	w.audErr = errors.New("postgres down")
	m.connect(1)
	m.advance(t0.Add(250 * time.Millisecond))
	if m.rec.total() != 0 || len(m.rec.batches) != 0 {
		t.Fatalf("announced without an audience: %v", m.rec.batches)
	}
	w.audErr = nil
	m.connect(2)
	m.advance(t0.Add(500 * time.Millisecond))
	if got := m.rec.lastStatus(roomServer(1)); len(got) != 1 || got[2] != model.StatusOnline {
		t.Fatalf("server 1 heard %v", got)
	}
}

func TestUserWithoutRoomsStillReachesOwnTabs(t *testing.T) {
	m := newSim(newWorld(), Config{})
	m.connect(7)
	m.advance(t0.Add(250 * time.Millisecond))
	if got := m.rec.lastStatus(roomUser(7)); got[7] != model.StatusOnline {
		t.Fatalf("own room heard %v", got)
	}
}

// A user who left a busy server while a change of theirs waited for it: that room drops the held state
// instead of announcing it late; the user's other rooms hear the newer state.
func TestLeavingDropsHeldState(t *testing.T) {
	w := newWorld()
	w.addServer(1, members(2000)...)
	w.addServer(2, members(3000)...)
	w.addDM(100, 1, 2)
	m := newSim(w, Config{})
	m.connect(2)
	m.advance(t0.Add(250 * time.Millisecond)) // rooms 1 and 2 announced: busy from now on
	m.connect(1)
	m.advance(t0.Add(500 * time.Millisecond)) // member 1 online: DM now, rooms 1 and 2 hold it
	if got := m.s.held[1]; len(got) != 2 {
		t.Fatalf("held rooms of user 1: %v", got)
	}
	w.removeMember(1, 1)
	if err := m.s.SetStatus(1, "sock-1", model.StatusIdle); err != nil {
		t.Fatal(err)
	}
	if err := m.s.SetStatus(1, "sock-1", "away"); err == nil {
		t.Fatal("an unknown status must be refused")
	}
	m.advance(t0.Add(2250 * time.Millisecond)) // room 1 due at 2.25 s, room 2 at 3.25 s
	if _, ok := m.rec.lastStatus(roomServer(1))[1]; ok {
		t.Fatal("a server the user left heard the state it held for them")
	}
	if got := m.rec.lastStatus(roomChannel(100))[1]; got != model.StatusIdle {
		t.Fatalf("DM last heard %q", got)
	}
	m.advance(t0.Add(3250 * time.Millisecond))
	if got := m.rec.lastStatus(roomServer(2))[1]; got != model.StatusIdle {
		t.Fatalf("server 2 last heard %q, want idle", got)
	}
	if len(m.s.held) != 0 {
		t.Fatalf("held left over: %v", m.s.held)
	}
	// A lookup failure also drops what the rooms held for the user (their state cannot be announced now).
	m.connect(3)
	m.advance(t0.Add(3500 * time.Millisecond)) // room 1 was quiet since 0.25 s (it dropped its only change): due
	if !slices.Equal(m.s.held[3], []int64{2}) {
		t.Fatalf("held rooms of user 3: %v", m.s.held[3])
	}
	w.audErr = errors.New("postgres down")
	_ = m.s.SetStatus(3, "sock-3", model.StatusIdle)
	m.advance(t0.Add(3750 * time.Millisecond))
	if len(m.s.held) != 0 || len(m.s.rooms[1].pending) != 0 || len(m.s.rooms[2].pending) != 0 {
		t.Fatalf("held after a failed lookup: %v", m.s.held)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{AnnounceEvery: time.Second, AnnounceMaxEvery: 100 * time.Millisecond}
	c.defaults()
	if c.AnnounceMaxEvery != time.Second || c.AnnouncePerMember != time.Millisecond || c.SizeTTL != time.Minute {
		t.Fatalf("%+v", c)
	}
	c = Config{}
	c.defaults()
	if c.AnnounceEvery != 250*time.Millisecond || c.AnnounceMaxEvery != 10*time.Second {
		t.Fatalf("%+v", c)
	}
}

// --- real time --------------------------------------------------------------------------------------------

// The running service (real tickers, default config): while 2,000 members of a big server connect, a friend
// who shares a small server and a DM with the watcher is seen there within a second, and the whole burst
// still costs O(members).
func TestRealTimeSmallServerSeesFriendDuringBurst(t *testing.T) {
	const n = 2000
	w := newWorld()
	w.addServer(1, members(n)...)
	w.addServer(2, 1, 2, 3, 4, 5) // a small server: 1 is the watcher, 2 the friend
	w.addDM(100, 1, 2)
	rec := newRecorder(w, time.Now)
	s := New(newMemStore(), w, rec, Config{}, discard())
	defer s.Close()
	for _, id := range []int64{1, 3, 4, 5} {
		w.setOnline(id, true)
		s.Connected(id, fmt.Sprintf("sock-%d", id))
	}
	start := time.Now()
	var friendAt time.Time
	const burst = 2 * time.Second
	for i := int64(6); i <= n; i++ {
		if i == n/2 { // mid-burst, the friend comes online
			w.setOnline(2, true)
			friendAt = time.Now()
			s.Connected(2, "sock-2")
		}
		w.setOnline(i, true)
		s.Connected(i, fmt.Sprintf("sock-%d", i))
		if sleep := time.Until(start.Add(time.Duration(i) * burst / n)); sleep > 0 {
			time.Sleep(sleep)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.lastStatus(roomServer(1))) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, room := range []string{roomServer(2), roomChannel(100)} {
		at, ok := rec.firstSeen(room, 2, model.StatusOnline)
		if !ok || at.Sub(friendAt) > time.Second {
			t.Fatalf("%s saw the friend after %v (seen: %v), want within 1 s", room, at.Sub(friendAt), ok)
		}
		t.Logf("%s saw the friend online %v after they connected", room, at.Sub(friendAt).Round(time.Millisecond))
	}
	if got := len(rec.lastStatus(roomServer(1))); got != n {
		t.Fatalf("server 1 heard of %d members, want %d", got, n)
	}
	time.Sleep(500 * time.Millisecond) // anything still to come would show here
	total := rec.total()
	t.Logf("%d members connecting over %v in real time: %d socket deliveries (%.1f per member)", n, burst, total, float64(total)/n)
	if total > 5*n {
		t.Fatalf("%d deliveries, want at most %d", total, 5*n)
	}
}

// A friend coming online in a small server is seen within a second (real tickers).
func TestRealTimeSmallServerWithinASecond(t *testing.T) {
	w := newWorld()
	w.addServer(2, 1, 2, 3)
	w.setOnline(1, true)
	rec := newRecorder(w, time.Now)
	s := New(newMemStore(), w, rec, Config{}, discard())
	defer s.Close()
	s.Connected(1, "sock-1")
	time.Sleep(300 * time.Millisecond)
	w.setOnline(2, true)
	start := time.Now()
	s.Connected(2, "sock-2")
	for time.Since(start) < 2*time.Second {
		if at, ok := rec.firstSeen(roomServer(2), 2, model.StatusOnline); ok {
			if d := at.Sub(start); d > time.Second {
				t.Fatalf("seen after %v", d)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the small server never saw the friend come online")
}

// A node whose lease ended takes its users offline at once (not after StaleAfter without heartbeats); a user
// still connected to another node stays online.
func TestNodeGoneTurnsItsUsersOffline(t *testing.T) {
	w := newWorld()
	w.addServer(1, 1, 2, 3)
	m := newSim(w, Config{NodeID: 1})
	store := m.s.store.(*memStore)
	store.entries[[2]int64{2, 2}] = model.NodePresence{UserID: 2, NodeID: 2, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0}
	store.entries[[2]int64{3, 2}] = model.NodePresence{UserID: 3, NodeID: 2, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0}
	store.entries[[2]int64{3, 3}] = model.NodePresence{UserID: 3, NodeID: 3, Status: model.StatusOnline, LastSeen: t0, HeartbeatAt: t0}
	m.s.NodeGone(2)
	m.advance(t0.Add(time.Second))
	got := m.rec.lastStatus(roomServer(1))
	if got[2] != model.StatusOffline {
		t.Errorf("user 2 (only on the departed node) announced as %q", got[2])
	}
	if _, ok := got[3]; ok {
		t.Errorf("user 3, still on node 3, was announced: %q", got[3])
	}
}

// A chosen status (issue #16): do not disturb is announced as such; invisible is announced and read as offline by
// others (the user sees it as invisible), wins over every other tab, and an invisible tab's activity changes
// announce nothing. A socket can start invisible (the handshake's status), so it never shows online at all.
func TestChosenStatus(t *testing.T) {
	w := newWorld()
	w.addDM(100, 1, 2)
	m := newSim(w, Config{})
	w.setOnline(1, true)
	w.setOnline(2, true)
	m.s.ConnectedAs(1, "sock-1", model.StatusInvisible)
	m.advance(t0.Add(250 * time.Millisecond))
	if n := m.rec.roomEvents(roomChannel(100)); n != 0 {
		t.Fatalf("an invisible user's connect was announced (%d events)", n)
	}
	ctx := context.Background()
	get := func(caller int64) string {
		ps, err := m.s.Get(ctx, caller, []int64{1})
		if err != nil || len(ps) != 1 {
			t.Fatalf("get: %v %v", ps, err)
		}
		if caller != 1 && ps[0].Status == model.StatusOffline && !ps[0].LastSeen.IsZero() {
			t.Fatalf("an invisible user's last seen is shown: %v", ps[0].LastSeen)
		}
		return ps[0].Status
	}
	if got := get(2); got != model.StatusOffline {
		t.Fatalf("others read %q, want offline", got)
	}
	if got := get(1); got != model.StatusInvisible {
		t.Fatalf("the user reads %q, want invisible", got)
	}
	// A second tab that has not heard of the choice yet, active then idle: still invisible (the choice on the first
	// tab wins), nothing announced.
	m.s.ConnectedAs(1, "sock-1b", model.StatusOnline)
	_ = m.s.SetStatus(1, "sock-1b", model.StatusIdle)
	m.advance(t0.Add(500 * time.Millisecond))
	if n := m.rec.roomEvents(roomChannel(100)); n != 0 {
		t.Fatalf("activity under invisible was announced (%d events)", n)
	}
	// Do not disturb on one tab: the DM hears dnd.
	if err := m.s.SetStatus(1, "sock-1", model.StatusDND); err != nil {
		t.Fatal(err)
	}
	m.advance(t0.Add(750 * time.Millisecond))
	if got := m.rec.lastStatus(roomChannel(100))[1]; got != model.StatusDND {
		t.Fatalf("DM heard %q, want dnd", got)
	}
	if got := get(2); got != model.StatusDND {
		t.Fatalf("others read %q, want dnd", got)
	}
	// Back to invisible: announced as offline.
	_ = m.s.SetStatus(1, "sock-1b", model.StatusInvisible)
	m.advance(t0.Add(time.Second))
	if got := m.rec.lastStatus(roomChannel(100))[1]; got != model.StatusOffline {
		t.Fatalf("DM heard %q, want offline", got)
	}
	if got := get(2); got != model.StatusOffline {
		t.Fatalf("others read %q, want offline", got)
	}
	// An unknown handshake status counts as online.
	m.s.ConnectedAs(2, "sock-2", "busy")
	m.advance(t0.Add(1250 * time.Millisecond))
	if got := m.rec.lastStatus(roomChannel(100))[2]; got != model.StatusOnline {
		t.Fatalf("DM heard %q for user 2, want online", got)
	}
}

// After a heartbeat late by half StaleAfter or more (the node was paused, or MongoDB away), another node may have
// swept this node's entries to offline while its users stayed connected: every connected user's entry is written
// again, with its current status. An on-time heartbeat writes no entry.
func TestLateHeartbeatWritesConnectedUsersAgain(t *testing.T) {
	m := newSim(newWorld(), Config{NodeID: 4})
	store := m.s.store.(*memStore)
	m.connect(1)
	m.connect(2)
	if err := m.s.SetStatus(2, "sock-2", model.StatusDND); err != nil {
		t.Fatal(err)
	}
	if err := m.s.dirty.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	for k, e := range store.entries { // what another node's sweep leaves
		e.Status = model.StatusOffline
		store.entries[k] = e
	}
	store.mu.Unlock()

	last := m.s.heartbeat(t0.Add(-m.s.cfg.HeartbeatEvery)) // on time
	if n := m.s.dirty.Len(); n != 0 || !last.Equal(t0) {
		t.Fatalf("an on-time heartbeat queued %d entries (returned %v)", n, last)
	}
	m.clock = t0.Add(m.s.cfg.StaleAfter / 2)
	if last = m.s.heartbeat(last); !last.Equal(m.clock) {
		t.Fatalf("heartbeat returned %v, want %v", last, m.clock)
	}
	if err := m.s.dirty.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	want := map[int64]string{1: model.StatusOnline, 2: model.StatusDND}
	for id, status := range want {
		if e := store.entries[[2]int64{id, 4}]; e.Status != status || !e.HeartbeatAt.Equal(m.clock) {
			t.Errorf("user %d after a late heartbeat: %+v, want %s written at %v", id, e, status, m.clock)
		}
	}
}
