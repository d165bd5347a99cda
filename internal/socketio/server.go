// Package socketio is a server of the Socket.IO v5 protocol on top of internal/engineio: namespaces, CONNECT
// with an auth payload and middleware, events and acks both ways (binary included), rooms through an Adapter,
// and broadcasts that are encoded once for all their recipients.
//
// Handlers are registered per namespace, not per socket: a socket holds no listener tables. A socket's events
// are handled one at a time, in order, on the goroutine that reads its connection; a handler that waits for
// slow work should hand it off and answer through the ack.
package socketio

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/engineio"
)

// Config of the server.
type Config struct {
	Engine engineio.Config
	// ConnectTimeout closes a connection that has not joined a namespace in time (45 s like Node; the product
	// sets a few seconds).
	ConnectTimeout time.Duration
}

// Server is a Socket.IO server. Register namespaces and handlers before serving.
type Server struct {
	eio   *engineio.Server
	sched *engineio.Scheduler
	cfg   Config
	log   *slog.Logger

	mu   sync.RWMutex
	nsps map[string]*Namespace

	seq atomic.Uint64 // numbers sockets in the order they connect

	tap atomic.Pointer[Tap]
}

// Tap sees every event and ack the server sends, before encoding: ack is true for an answer to the client's
// event named event. Tests check them against the AsyncAPI document; it runs on the sending goroutine.
type Tap func(event string, ack bool, args []any)

// SetTap installs a tap (nil removes it).
func (s *Server) SetTap(t Tap) {
	if t == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&t)
}

func (s *Server) tapped(event string, ack bool, args []any) {
	if t := s.tap.Load(); t != nil {
		(*t)(event, ack, args)
	}
}

// New builds a server with the main namespace "/".
func New(cfg Config, log *slog.Logger) *Server {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	s := &Server{cfg: cfg, log: log, nsps: map[string]*Namespace{}, sched: engineio.NewScheduler()}
	s.eio = engineio.New(cfg.Engine, s, s.sched, log)
	s.Of("/")
	return s
}

// ServeHTTP serves the Engine.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Engine is the underlying Engine.IO server.
func (s *Server) Engine() *engineio.Server { return s.eio }

// Of returns the namespace with that name, creating it. Clients asking for any other namespace are refused.
func (s *Server) Of(name string) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps[name]; ok {
		return n
	}
	n := &Namespace{name: name, srv: s, handlers: map[string]EventHandler{}, sockets: map[*Socket]struct{}{}}
	n.adapter = NewLocalAdapter()
	s.nsps[name] = n
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// Close disconnects every client and stops the scheduler.
func (s *Server) Close() {
	s.eio.Close()
	s.sched.Close()
}

// client is the Socket.IO state of one Engine.IO connection.
type client struct {
	srv  *Server
	conn *engineio.Conn
	addr string

	mu      sync.Mutex
	sockets []*Socket // one per joined namespace; usually just "/"
	joined  bool      // some namespace was ever joined (the connect timeout)
	binary  *pendingBinary
}

type pendingBinary struct {
	packet      Packet
	attachments [][]byte
}

// OnOpen implements engineio.Handler.
func (s *Server) OnOpen(c *engineio.Conn, r *http.Request) {
	cl := &client{srv: s, conn: c, addr: r.RemoteAddr}
	c.Data = cl
	s.sched.After(s.cfg.ConnectTimeout, func() {
		cl.mu.Lock()
		joined := cl.joined
		cl.mu.Unlock()
		if !joined {
			go c.Close("connect timeout")
		}
	})
}

// OnMessage implements engineio.Handler: decodes packets (reassembling binary ones) and dispatches them.
func (s *Server) OnMessage(c *engineio.Conn, data []byte, binary bool) {
	cl := c.Data.(*client)
	if binary {
		cl.mu.Lock()
		pb := cl.binary
		if pb == nil {
			cl.mu.Unlock()
			c.Close("parse error")
			return
		}
		pb.attachments = append(pb.attachments, data)
		done := len(pb.attachments) == pb.packet.Attachments
		if done {
			cl.binary = nil
		}
		cl.mu.Unlock()
		if done {
			cl.dispatch(pb.packet, pb.attachments)
		}
		return
	}
	p, err := DecodePacket(data)
	if err != nil {
		c.Close("parse error")
		return
	}
	if p.Attachments > 0 {
		cl.mu.Lock()
		if cl.binary != nil {
			cl.mu.Unlock()
			c.Close("parse error")
			return
		}
		cl.binary = &pendingBinary{packet: p}
		cl.mu.Unlock()
		return
	}
	cl.dispatch(p, nil)
}

// OnClose implements engineio.Handler: every socket of the connection disconnects with the reason.
func (s *Server) OnClose(c *engineio.Conn, reason string) {
	cl := c.Data.(*client)
	cl.mu.Lock()
	socks := cl.sockets
	cl.sockets = nil
	cl.mu.Unlock()
	for _, so := range socks {
		so.onClose(reason)
	}
}

func (cl *client) socket(nsp string) *Socket {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, so := range cl.sockets {
		if so.nsp.name == nsp {
			return so
		}
	}
	return nil
}

func (cl *client) remove(so *Socket) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, x := range cl.sockets {
		if x == so {
			cl.sockets = append(cl.sockets[:i], cl.sockets[i+1:]...)
			return
		}
	}
}

func (cl *client) send(p EncodedPacket) {
	cl.conn.Send(engineio.NewMessage(p.Text, p.Attachments...))
}

func (cl *client) dispatch(p Packet, attachments [][]byte) {
	switch p.Type {
	case PacketConnect:
		cl.connect(p)
	case PacketDisconnect:
		if so := cl.socket(p.Nsp); so != nil {
			cl.remove(so)
			so.onClose("client namespace disconnect")
		}
	case PacketEvent, PacketBinaryEvent:
		if so := cl.socket(p.Nsp); so != nil {
			so.onEvent(p, attachments)
		}
	case PacketAck, PacketBinaryAck:
		if so := cl.socket(p.Nsp); so != nil {
			so.onAck(p, attachments)
		}
	default: // CONNECT_ERROR only goes from server to client
		cl.conn.Close("parse error")
	}
}

// ConnectError refuses a connection in middleware; the client's connect_error gets Message and Data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

func (cl *client) connectError(nsp, message string, data any) {
	body, _ := appendJSON(nil, struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{message, data})
	text := appendHeader(nil, PacketConnectError, nsp, -1, 0)
	cl.send(EncodedPacket{Text: append(text, body...)})
}

func (cl *client) connect(p Packet) {
	n := cl.srv.namespace(p.Nsp)
	if n == nil {
		cl.connectError(p.Nsp, "Invalid namespace", nil)
		return
	}
	if cl.socket(p.Nsp) != nil {
		return // already connected to it
	}
	auth := json.RawMessage(p.Data)
	if auth == nil {
		auth = json.RawMessage("{}")
	}
	so := &Socket{conn: cl.conn, seq: cl.srv.seq.Add(1), id: engineio.NewID(), nsp: n, client: cl, auth: auth, connecting: true}
	cl.mu.Lock()
	cl.joined = true
	cl.mu.Unlock()
	for _, mw := range n.middleware {
		if err := mw(so); err != nil {
			n.adapter.LeaveAll(so)
			var ce *ConnectError
			if errors.As(err, &ce) {
				cl.connectError(p.Nsp, ce.Message, ce.Data)
			} else {
				cl.connectError(p.Nsp, err.Error(), nil)
			}
			return
		}
	}
	if cl.conn.Closed() {
		n.adapter.LeaveAll(so)
		for _, h := range n.onAbandon {
			h(so)
		}
		return
	}
	cl.mu.Lock()
	cl.sockets = append(cl.sockets, so)
	cl.mu.Unlock()
	n.add(so)
	n.adapter.Join(so) // no rooms: listed for namespace-wide broadcasts (Emit, Except) and room actions
	body, _ := appendJSON(nil, struct {
		SID string `json:"sid"`
	}{so.id})
	cl.send(EncodedPacket{Text: append(appendHeader(nil, PacketConnect, p.Nsp, -1, 0), body...)})
	so.connected.Store(true)
	for _, h := range n.onConnect {
		h(so)
	}
	// A close that came while the connect hooks ran is handled now, so the disconnect hooks run after them.
	so.mu.Lock()
	so.connecting = false
	reason := so.closeAfter
	so.mu.Unlock()
	if reason == "" && cl.conn.Closed() {
		reason = "transport close" // closed before the socket was listed on the client
	}
	if reason != "" {
		cl.remove(so)
		so.onClose(reason)
	}
}
