package socketio

import (
	"runtime"
	"sync"

	"github.com/parleychat/parley/internal/engineio"
)

// BroadcastOptions select sockets: those in any of Rooms (every socket of the namespace when empty), minus
// those in any of Except.
type BroadcastOptions struct {
	Rooms  []Room
	Except []Room
}

// RoomAction is what Apply does to the selected sockets.
type RoomAction struct {
	Join, Leave []Room
	Disconnect  bool // send DISCONNECT and drop the socket
	Close       bool // with Disconnect: close the connection too
}

// Adapter keeps a namespace's rooms and delivers broadcasts. The in-process LocalAdapter serves one node; an
// adapter for several nodes wraps it and carries Broadcast and Apply (both plain data: an EncodedPacket and
// options) to the other nodes, which run them on their own LocalAdapter.
type Adapter interface {
	Join(s *Socket, rooms ...Room)
	Leave(s *Socket, rooms ...Room)
	LeaveAll(s *Socket)
	Broadcast(p EncodedPacket, opts BroadcastOptions)
	Apply(opts BroadcastOptions, a RoomAction)
}

// LocalAdapter is the in-process adapter.
type LocalAdapter struct {
	mu    sync.RWMutex
	rooms map[Room]map[*Socket]struct{}
	all   map[*Socket]struct{} // sockets that joined (every connected one does, with no rooms)
}

// NewLocalAdapter makes an empty adapter.
func NewLocalAdapter() *LocalAdapter {
	return &LocalAdapter{rooms: map[Room]map[*Socket]struct{}{}, all: map[*Socket]struct{}{}}
}

// Join adds s to rooms (with no rooms: registers s for namespace-wide broadcasts).
func (a *LocalAdapter) Join(s *Socket, rooms ...Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all[s] = struct{}{}
	for _, r := range rooms {
		m := a.rooms[r]
		if m == nil {
			m = map[*Socket]struct{}{}
			a.rooms[r] = m
		}
		if _, ok := m[s]; ok {
			continue
		}
		m[s] = struct{}{}
		s.rooms = append(s.rooms, r)
	}
}

// Leave removes s from rooms.
func (a *LocalAdapter) Leave(s *Socket, rooms ...Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rooms {
		a.leaveLocked(s, r)
		for i, x := range s.rooms {
			if x == r {
				s.rooms = append(s.rooms[:i], s.rooms[i+1:]...)
				break
			}
		}
	}
}

func (a *LocalAdapter) leaveLocked(s *Socket, r Room) {
	if m := a.rooms[r]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(a.rooms, r)
		}
	}
}

// LeaveAll removes s from every room.
func (a *LocalAdapter) LeaveAll(s *Socket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range s.rooms {
		a.leaveLocked(s, r)
	}
	s.rooms = nil
	delete(a.all, s)
}

// Rooms lists the rooms s is in.
func (a *LocalAdapter) Rooms(s *Socket) []Room {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return append([]Room(nil), s.rooms...)
}

// RoomSize is the number of sockets in a room.
func (a *LocalAdapter) RoomSize(r Room) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.rooms[r])
}

var targetPool = sync.Pool{New: func() any { s := make([]*Socket, 0, 256); return &s }}

// Broadcast builds the frame once and writes the same bytes to every selected socket. Writes do not block
// (see engineio.Conn.Send), so one slow client does not hold up the others.
func (a *LocalAdapter) Broadcast(p EncodedPacket, opts BroadcastOptions) {
	tp := targetPool.Get().(*[]*Socket)
	targets := a.selectSockets(opts, (*tp)[:0])
	if len(targets) > 0 {
		f := engineio.NewMessage(p.Text, p.Attachments...)
		// Sockets are in rooms from their middleware on (events before the CONNECT answer are buffered by
		// the client) until they close, so membership alone decides. A large room is written by several
		// goroutines at once: each delivery is a syscall of several microseconds, so the last member of a
		// 2,000-member room would otherwise wait for 1,999 writes.
		parts := min(runtime.GOMAXPROCS(0), len(targets)/parallelFanout)
		if parts <= 1 {
			sendAll(targets, f)
		} else {
			var wg sync.WaitGroup
			size := (len(targets) + parts - 1) / parts
			for lo := size; lo < len(targets); lo += size {
				wg.Go(func() { sendAll(targets[lo:min(lo+size, len(targets))], f) })
			}
			sendAll(targets[:size], f)
			wg.Wait()
		}
	}
	clear(targets)
	*tp = targets[:0]
	targetPool.Put(tp)
}

// parallelFanout is the number of members per goroutine above which a broadcast is written in parallel.
const parallelFanout = 512

func sendAll(targets []*Socket, f *engineio.Frame) {
	for _, s := range targets {
		s.conn.Send(f)
	}
}

// Apply runs a room action on the selected sockets.
func (a *LocalAdapter) Apply(opts BroadcastOptions, act RoomAction) {
	targets := a.selectSockets(opts, nil)
	for _, s := range targets {
		if len(act.Join) > 0 {
			a.Join(s, act.Join...)
		}
		if len(act.Leave) > 0 {
			a.Leave(s, act.Leave...)
		}
		if act.Disconnect {
			s.Disconnect(act.Close)
		}
	}
}

// selectSockets appends the selected sockets to dst, each once.
func (a *LocalAdapter) selectSockets(opts BroadcastOptions, dst []*Socket) []*Socket {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[*Socket]struct{}
	if len(opts.Except) > 0 {
		except = map[*Socket]struct{}{}
		for _, r := range opts.Except {
			for s := range a.rooms[r] {
				except[s] = struct{}{}
			}
		}
	}
	add := func(set map[*Socket]struct{}, seen map[*Socket]struct{}) {
		for s := range set {
			if _, ok := except[s]; ok {
				continue
			}
			if seen != nil {
				if _, ok := seen[s]; ok {
					continue
				}
				seen[s] = struct{}{}
			}
			dst = append(dst, s)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		add(a.all, nil)
	case 1:
		add(a.rooms[opts.Rooms[0]], nil)
	default:
		seen := map[*Socket]struct{}{}
		for _, r := range opts.Rooms {
			add(a.rooms[r], seen)
		}
	}
	return dst
}
