package socketapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/engineio"
	"github.com/parleychat/parley/internal/socketio"
)

// Hub is the outbound side of the socket endpoint: the protocol server, its rooms (across nodes through the bus)
// and the Publisher the services notify. It depends on no service, so the composition root builds it before them
// and hands its Publisher to their constructors; the inbound Server (New) is attached to it last.
type Hub struct {
	io      *socketio.Server
	nsp     *socketio.Namespace
	local   *socketio.LocalAdapter // this node's rooms (under bus when several nodes)
	bus     *socketio.BusAdapter   // several nodes only
	log     *slog.Logger
	origins map[string]bool
	cfg     Config // with defaults; the inbound side reads its limits, metrics and tracer from here
}

// NewHub creates the Socket.IO protocol server. Attach the inbound side (New) before serving.
func NewHub(cfg Config, log *slog.Logger) *Hub {
	if cfg.MaxPayloadBytes == 0 {
		cfg.MaxPayloadBytes = 64 * 1024
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.EventLimits == nil {
		cfg.EventLimits = DefaultEventLimits
	}
	if cfg.MaxSocketsPerUser <= 0 {
		cfg.MaxSocketsPerUser = DefaultMaxSocketsPerUser
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	h := &Hub{log: log, origins: map[string]bool{}, cfg: cfg}
	for _, o := range cfg.AllowedOrigins {
		h.origins[strings.TrimRight(o, "/")] = true
	}
	// permessage-deflate is never negotiated (engineio ignores the offer), so MaxPayloadBytes bounds every
	// message as sent: no decompression bombs.
	h.io = socketio.New(socketio.Config{
		Engine: engineio.Config{
			MaxPayload:      cfg.MaxPayloadBytes,
			WriteQueueLimit: cfg.WriteQueueLimit,
			PingInterval:    cfg.PingInterval,
			PingTimeout:     cfg.PingTimeout,
			AllowRequest:    h.checkOrigin,
		},
		ConnectTimeout: cfg.ConnectTimeout,
	}, log)
	h.nsp = h.io.Of("/")
	h.local, _ = h.nsp.Adapter().(*socketio.LocalAdapter)
	if cfg.Bus != nil {
		h.bus = socketio.NewBusAdapter(h.local, cfg.Bus, log)
		h.nsp.SetAdapter(h.bus)
	}
	return h
}

// Publisher returns the notifier the services use.
func (h *Hub) Publisher() *Publisher { return &Publisher{s: h} }

// Receive runs a broadcast or room change that another node sent over the bus (several nodes only).
func (h *Hub) Receive(payload []byte) {
	if h.bus == nil {
		return
	}
	if err := h.bus.Receive(payload); err != nil {
		h.log.Warn("bad message from another node", "err", err)
	}
}

// Handler is the HTTP handler to mount at /socket.io/.
func (h *Hub) Handler() http.Handler { return h.io }

// Tap installs a hook that sees every event and ack sent (tests check them against docs/asyncapi.yaml).
func (h *Hub) Tap(t socketio.Tap) { h.io.SetTap(t) }

// SocketsByTransport counts this node's open Engine.IO sessions by transport (websocket, polling).
func (h *Hub) SocketsByTransport() map[string]int { return h.io.Engine().CountByTransport() }

// checkOrigin refuses browser handshakes from origins not on the allowlist (cross-site WebSocket hijacking).
// Requests without an Origin header are not from a browser page and carry no ambient credentials.
func (h *Hub) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || h.origins[strings.TrimRight(origin, "/")] {
		return nil
	}
	h.log.Warn("socket handshake from a foreign origin refused", "origin", origin)
	h.cfg.Metrics.Handshake("forbidden_origin")
	return fmt.Errorf("origin not allowed")
}

// SessionRevoked disconnects every socket of a session (auth.RevocationListener).
func (h *Hub) SessionRevoked(sessionID, _ int64, reason string) {
	room := SessionRoom(sessionID)
	_ = h.nsp.To(room).Emit(wire.EventSessionRevoked, wire.SessionRevokedEvent{Reason: reason})
	h.nsp.In(room).DisconnectSockets(false) // a DISCONNECT packet: clients do not auto-reconnect
}

// Close stops accepting sockets and closes the open ones.
func (h *Hub) Close() { h.io.Close() }
