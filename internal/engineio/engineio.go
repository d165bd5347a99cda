// Package engineio is a server of the Engine.IO v4 protocol (the transport under Socket.IO v5): WebSocket and
// HTTP long-polling transports, the upgrade from polling to WebSocket, heartbeats and payload limits.
//
// It is written for many mostly idle connections and large fan-outs:
//   - a frame is encoded once and the same bytes are written to every recipient (Frame);
//   - WebSocket writes are attempted without blocking from the sender's goroutine; only a connection whose
//     kernel buffer is full gets a queue and a writer goroutine, and one whose queue passes the limit is closed;
//   - an idle WebSocket connection holds one parked reader goroutine and no buffers;
//   - heartbeats, handshake deadlines and ack timeouts share one scheduler (no timer per connection).
//
// The protocol is specified at https://socket.io/docs/v4/engine-io-protocol/ and checked by the official
// compliance suite (scripts/conformance.sh).
package engineio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// Handler receives a connection's life: OnOpen before anything else, OnMessage for each message in order
// (never concurrently for one connection), OnClose exactly once. The data passed to OnMessage belongs to the
// handler.
type Handler interface {
	OnOpen(c *Conn, r *http.Request)
	OnMessage(c *Conn, data []byte, binary bool)
	OnClose(c *Conn, reason string)
}

// Config of the server. Zero values take the defaults of the Node.js server.
type Config struct {
	PingInterval time.Duration // 25 s
	PingTimeout  time.Duration // 20 s
	MaxPayload   int           // bytes of one message, or of one long-polling POST body (1,000,000)
	// WriteQueueLimit bounds the bytes waiting to be written to one connection; a client that falls further
	// behind is disconnected (1 MiB).
	WriteQueueLimit int
	// WriteTimeout bounds one blocked write to a slow WebSocket client (10 s).
	WriteTimeout time.Duration
	// UpgradeTimeout bounds the polling → WebSocket upgrade (10 s).
	UpgradeTimeout time.Duration
	// AllowRequest may refuse a handshake (403); for example an Origin check.
	AllowRequest func(r *http.Request) error
	// CORSOrigin, when set, is sent as Access-Control-Allow-Origin (test servers use "*"; the product serves the
	// app from the same origin and sends none).
	CORSOrigin string
}

func (c *Config) defaults() {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.WriteQueueLimit <= 0 {
		c.WriteQueueLimit = 1 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
}

// Server serves Engine.IO sessions. Mount it on the path the clients use (/socket.io/ or /engine.io/).
type Server struct {
	cfg     Config
	handler Handler
	sched   *Scheduler
	log     *slog.Logger
	upgr    ws.HTTPUpgrader
	poller  *poller // nil: one reader goroutine per WebSocket

	mu       sync.RWMutex
	sessions map[string]*Conn
	closed   bool
}

// New builds a server. Close stops it.
func New(cfg Config, h Handler, sched *Scheduler, log *slog.Logger) *Server {
	cfg.defaults()
	p, err := newPoller()
	if err != nil {
		log.Warn("engineio: no epoll poller, one reader goroutine per WebSocket", "err", err)
	}
	// No Negotiate function: permessage-deflate offers are ignored, so every frame's size as sent is its
	// real size and MaxPayload bounds memory (no decompression bombs).
	return &Server{cfg: cfg, handler: h, sched: sched, log: log, sessions: map[string]*Conn{}, poller: p,
		upgr: ws.HTTPUpgrader{Timeout: 10 * time.Second}}
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Scheduler is the shared scheduler the server's connections use.
func (s *Server) Scheduler() *Scheduler { return s.sched }

// Count is the number of open sessions.
func (s *Server) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Close closes every session ("server shutting down") and refuses new ones.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close("server shutting down")
		c.endTransports() // the close frames are out; no waiting for the clients' answers
	}
	if s.poller != nil {
		s.poller.close()
	}
}

// Error codes of the protocol's HTTP error answers.
const (
	errTransportUnknown = iota
	errSessionUnknown
	errBadHandshakeMethod
	errBadRequest
	errForbidden
	errUnsupportedVersion
)

var errMessages = [...]string{"Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request",
	"Forbidden", "Unsupported protocol version"}

func (s *Server) httpError(w http.ResponseWriter, status, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"code":` + strconv.Itoa(code) + `,"message":"` + errMessages[code] + `"}`))
}

// ServeHTTP handles handshakes, long-polling requests and WebSocket upgrades.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CORSOrigin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", s.cfg.CORSOrigin)
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		s.httpError(w, http.StatusBadRequest, errUnsupportedVersion)
		return
	}
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" {
		s.httpError(w, http.StatusBadRequest, errTransportUnknown)
		return
	}
	isWS := transport == "websocket"
	if isWS && (r.Method != http.MethodGet || !headerHasToken(r.Header.Get("Upgrade"), "websocket")) {
		s.httpError(w, http.StatusBadRequest, errBadRequest)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if r.Method != http.MethodGet {
			s.httpError(w, http.StatusBadRequest, errBadHandshakeMethod)
			return
		}
		if s.cfg.AllowRequest != nil {
			if err := s.cfg.AllowRequest(r); err != nil {
				s.httpError(w, http.StatusForbidden, errForbidden)
				return
			}
		}
		if isWS {
			s.openWebSocket(w, r)
		} else {
			s.openPolling(w, r)
		}
		return
	}
	c := s.lookup(sid)
	if c == nil {
		s.httpError(w, http.StatusBadRequest, errSessionUnknown)
		return
	}
	if isWS {
		s.upgrade(c, w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.servePoll(w, r)
	case http.MethodPost:
		c.servePost(w, r)
	default:
		s.httpError(w, http.StatusBadRequest, errBadRequest)
	}
}

func (s *Server) lookup(sid string) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[sid]
}

// register adds a new session; false when the server is closing.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[c.id] = c
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	if s.sessions[c.id] == c {
		delete(s.sessions, c.id)
	}
	s.mu.Unlock()
}

// openPacket is the handshake packet's payload.
func (s *Server) openPacket(sid string, upgrades []string) []byte {
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}{sid, upgrades, s.cfg.PingInterval.Milliseconds(), s.cfg.PingTimeout.Milliseconds(), s.cfg.MaxPayload})
	return b
}

// NewID returns a random 20-character URL-safe id (120 bits), like the Node.js server's base64id.
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// errParse marks a packet that does not follow the protocol; the session is closed.
var errParse = errors.New("engine.io: invalid packet")

var errNoPoller = errors.New("engine.io: no poller on this system")

func headerHasToken(v, token string) bool {
	for _, item := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(item), token) {
			return true
		}
	}
	return false
}

// CountByTransport is the number of open sessions per transport ("websocket", "polling").
func (s *Server) CountByTransport() map[string]int {
	s.mu.RLock()
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.RUnlock()
	out := map[string]int{}
	for _, c := range conns { // Transport takes the connection's lock: not under the server's
		out[c.Transport()]++
	}
	return out
}
