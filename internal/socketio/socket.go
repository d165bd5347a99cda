package socketio

import (
	"encoding/json"
	"errors"
	"github.com/parleychat/parley/internal/engineio"
	"sync"
	"sync/atomic"
	"time"
)

// Room names a set of sockets.
type Room = string

// Args are the arguments of a received event or ack: raw JSON for each (decode them into the types you
// expect), and the binary attachments their placeholders point to. Passing an Args as an emit argument sends
// the arguments on unchanged.
type Args struct {
	Raw         []json.RawMessage
	Attachments [][]byte
}

// AckFunc answers an event's ack; calls after the first are ignored.
type AckFunc func(args ...any)

// EventHandler handles one event. ack is nil when the client did not ask for one.
type EventHandler func(s *Socket, args Args, ack AckFunc)

// Errors given to server-to-client ack callbacks.
var (
	ErrAckTimeout   = errors.New("socket.io: ack timed out")
	ErrDisconnected = errors.New("socket.io: socket disconnected")
)

// Socket is a client's connection to one namespace.
type Socket struct {
	conn   *engineio.Conn // the client's connection, kept here so a broadcast reaches it in one hop
	seq    uint64         // order of connection on this server (broadcasts write in this order)
	id     string
	nsp    *Namespace
	client *client
	auth   json.RawMessage

	// Data is the application's state for this socket (set in middleware).
	Data any

	connected atomic.Bool
	rooms     []Room // guarded by the local adapter's lock

	mu         sync.Mutex
	closed     bool
	connecting bool   // connect hooks are running
	closeAfter string // a close that arrived while they ran
	acks       map[int64]func(Args, error)
	nextAck    int64
}

// ID is the socket's id (the "sid" of the CONNECT answer).
func (s *Socket) ID() string { return s.id }

// Auth is the raw JSON of the client's CONNECT payload ("{}" when it sent none).
func (s *Socket) Auth() json.RawMessage { return s.auth }

// RemoteAddr is the address the connection came from.
func (s *Socket) RemoteAddr() string { return s.client.addr }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Connected tells whether the socket is still connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...Room) { s.nsp.adapter.Join(s, rooms...) }

// Leave removes the socket from rooms.
func (s *Socket) Leave(rooms ...Room) { s.nsp.adapter.Leave(s, rooms...) }

// Emit sends an event to this socket. []byte arguments travel as binary attachments.
func (s *Socket) Emit(event string, args ...any) error {
	s.nsp.srv.tapped(event, false, args)
	p, err := encodeEvent(s.nsp.name, -1, event, args)
	if err != nil {
		return err
	}
	s.client.send(p)
	return nil
}

// EmitWithAck sends an event and calls cb with the client's answer, or with ErrAckTimeout / ErrDisconnected.
// The timeout runs on the server's shared scheduler.
func (s *Socket) EmitWithAck(timeout time.Duration, cb func(Args, error), event string, args ...any) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = map[int64]func(Args, error){}
	}
	s.acks[id] = cb
	s.mu.Unlock()
	s.nsp.srv.tapped(event, false, args)
	p, err := encodeEvent(s.nsp.name, id, event, args)
	if err != nil {
		s.takeAck(id)
		return err
	}
	s.client.send(p)
	s.nsp.srv.sched.After(timeout, func() {
		if cb := s.takeAck(id); cb != nil {
			go cb(Args{}, ErrAckTimeout)
		}
	})
	return nil
}

func (s *Socket) takeAck(id int64) func(Args, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb := s.acks[id]
	delete(s.acks, id)
	return cb
}

// Disconnect sends the client a DISCONNECT (it will not reconnect on its own) and closes the socket; with
// closeConn the whole connection closes too.
func (s *Socket) Disconnect(closeConn bool) {
	if !s.connected.Load() {
		return
	}
	s.client.send(EncodedPacket{Text: appendHeader(nil, PacketDisconnect, s.nsp.name, -1, 0)})
	s.client.remove(s)
	s.onClose("server namespace disconnect")
	if closeConn {
		s.client.conn.Close("forced close")
	}
}

func (s *Socket) onEvent(p Packet, attachments [][]byte) {
	name, raw, err := splitEvent(p.Data)
	if err != nil {
		s.client.conn.Close("parse error")
		return
	}
	h := s.nsp.handler(name)
	if h == nil {
		return
	}
	var ack AckFunc
	if p.ID >= 0 {
		var once atomic.Bool
		id := p.ID
		ack = func(args ...any) {
			if !once.CompareAndSwap(false, true) {
				return
			}
			s.nsp.srv.tapped(name, true, args)
			pkt, err := encodeAck(s.nsp.name, id, args)
			if err != nil {
				s.nsp.srv.log.Error("socket.io: ack not encodable", "err", err)
				return
			}
			s.client.send(pkt)
		}
	}
	h(s, Args{Raw: raw, Attachments: attachments}, ack)
}

func (s *Socket) onAck(p Packet, attachments [][]byte) {
	cb := s.takeAck(p.ID)
	if cb == nil {
		return
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(p.Data, &raw); err != nil {
		return
	}
	cb(Args{Raw: raw, Attachments: attachments}, nil)
}

// onClose runs once: leave every room, fail waiting acks, run the disconnect hooks.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.connecting {
		s.closeAfter = reason
		s.mu.Unlock()
		return
	}
	s.closed = true
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	wasConnected := s.connected.Swap(false)
	s.nsp.remove(s)
	for _, cb := range acks {
		go cb(Args{}, ErrDisconnected)
	}
	if wasConnected {
		for _, h := range s.nsp.onDisconnect {
			h(s, reason)
		}
	}
}
