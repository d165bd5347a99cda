// Package socketapi is the Socket.IO side of the controllers, in two halves built at different times. The Hub
// (hub.go) is the outbound side: the protocol server (internal/socketio), its rooms and the Publisher the
// services notify; it needs nothing of them, so it is built first. The Server is the inbound side: the handshake
// (token + Origin checks), room membership and the event handlers; it is built last, with the services it calls,
// and registers everything in its constructor. Every event goes through one wrapper (on) that re-checks the
// session, decodes the payload straight into its typed struct (controllers/wire/events.go), recovers panics and
// answers the ack in one shape.
package socketapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/reqid"
	"github.com/parleychat/parley/internal/socketio"
	"github.com/parleychat/parley/services/auth"
)

// Authenticator checks access tokens and sessions.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (auth.Claims, error)
	CheckSession(ctx context.Context, sessionID int64) error
}

// RoomSource lists the channels a user can read, so a new socket can join their rooms.
type RoomSource interface {
	ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	ServerIDs(ctx context.Context, userID int64) ([]int64, error)
}

// Config for the socket server.
type Config struct {
	AllowedOrigins []string
	// MaxPayloadBytes caps one incoming message (WebSocket message or long-polling POST body).
	MaxPayloadBytes int
	// ConnectTimeout bounds the wait for a client's CONNECT packet.
	ConnectTimeout time.Duration
	// WriteQueueLimit bounds the bytes queued for one slow client before it is disconnected (1 MiB).
	WriteQueueLimit int
	// PingInterval and PingTimeout are the heartbeat (25 s and 20 s, as Node's server).
	PingInterval, PingTimeout time.Duration
	// Bus, with several nodes, carries broadcasts and room changes to the other nodes (nil: one node).
	Bus socketio.Outbox
	// EventLimits rate-limit events per user (nil: DefaultEventLimits; an event without an entry is not
	// limited here).
	EventLimits map[string]Limit
	// MaxSocketsPerUser bounds one account's sockets on this node (0: DefaultMaxSocketsPerUser).
	MaxSocketsPerUser int
	// Metrics records handshakes, events and message acks (nil: none).
	Metrics Metrics
	// Tracer starts a span per event, ended when it is answered (nil: none).
	Tracer trace.Tracer
}

// Metrics is what the socket server records.
type Metrics interface {
	Handshake(result string)    // "ok" or the refusal code
	Event(name, outcome string) // outcome: "ok" or the error code answered
	SendAcked(d time.Duration)  // message:send → its ack
	SendRefused(code string)    // message:send refused: unavailable or rate_limited
}

type noMetrics struct{}

func (noMetrics) Handshake(string)        {}
func (noMetrics) Event(string, string)    {}
func (noMetrics) SendAcked(time.Duration) {}
func (noMetrics) SendRefused(string)      {}

// Conn is what the server knows about an authenticated socket.
type Conn struct {
	UserID    int64
	SessionID int64
	Socket    *socketio.Socket
	// Status is the presence the client asked to start with in its handshake (its user's chosen status), or "".
	Status string
}

// Reply answers an event's ack: a result (merged into {ok:true,...}) or an error.
type Reply func(res wire.Ack, err error)

// Handler handles an event whose first argument decoded into P. It answers through reply exactly once, at
// once or later (after a durable write, or from work run off the socket's queue), as Centrifuge's handlers do.
type Handler[P any] func(ctx context.Context, c *Conn, p P, reply Reply)

// answer adapts a handler that has its result at once.
func answer[P any](h func(ctx context.Context, c *Conn, p P) (wire.Ack, error)) Handler[P] {
	return func(ctx context.Context, c *Conn, p P, reply Reply) { reply(h(ctx, c, p)) }
}

// ConnectHook runs for every new authenticated socket (presence, etc.). DisconnectHook when it closes.
type (
	ConnectHook    func(c *Conn)
	DisconnectHook func(c *Conn, reason string)
)

// Server is the inbound side of the product's Socket.IO endpoint: the handshake and the event handlers, on the
// hub's namespace.
type Server struct {
	hub     *Hub
	auth    Authenticator
	rooms   RoomSource
	log     *slog.Logger
	onConn  []ConnectHook
	onDisc  []DisconnectHook
	limits  map[string]*ratelimit.Keyed
	metrics Metrics
	tracer  trace.Tracer

	maxPerUser int
	usersMu    sync.Mutex
	perUser    map[int64]int // connection slots per user (taken in the handshake middleware, given back on close)
}

// Services are what the inbound side calls. Auth is required; a nil service leaves its events unregistered (tests
// that exercise one group), a nil Rooms joins sockets to their user and session rooms only.
type Services struct {
	Auth      Authenticator
	Rooms     RoomSource
	Messages  MessageService
	Presence  PresenceService
	Typing    TypingService
	Receipts  ReceiptService
	Reactions ReactionService
}

// handlerTimeout bounds the work one event may do.
const handlerTimeout = 10 * time.Second

// Room names.
func UserRoom(id int64) socketio.Room    { return "user:" + strconv.FormatInt(id, 10) }
func ChannelRoom(id int64) socketio.Room { return "channel:" + strconv.FormatInt(id, 10) }
func ServerRoom(id int64) socketio.Room  { return "server:" + strconv.FormatInt(id, 10) }
func SessionRoom(id int64) socketio.Room { return "session:" + strconv.FormatInt(id, 10) }

// New builds the inbound side on the hub: the handshake middleware, the connection hooks and every event
// handler, registered here, before the hub serves.
func New(hub *Hub, svc Services, log *slog.Logger) *Server {
	cfg := hub.cfg
	s := &Server{hub: hub, auth: svc.Auth, rooms: svc.Rooms, log: log, limits: newEventLimiters(cfg.EventLimits),
		maxPerUser: cfg.MaxSocketsPerUser, perUser: map[int64]int{}, metrics: cfg.Metrics, tracer: cfg.Tracer}
	nsp := hub.nsp
	nsp.Use(func(sock *socketio.Socket) error {
		// The handshake is a trace of its own: the token and session check and the room lists it reads.
		ctx, span := s.tracer.Start(context.Background(), "socket connect", trace.WithSpanKind(trace.SpanKindServer))
		err := s.authenticate(ctx, sock)
		result := "ok"
		if ce, ok := err.(*socketio.ConnectError); ok {
			result = ce.Message
		} else if err != nil {
			result = "error"
		}
		if err != nil {
			span.SetStatus(codes.Error, result)
		} else {
			span.SetAttributes(attribute.Int64("enduser.id", sock.Data.(*Conn).UserID))
		}
		span.SetAttributes(attribute.String("parley.outcome", result))
		span.End()
		s.metrics.Handshake(result)
		return err
	})
	nsp.OnConnection(func(sock *socketio.Socket) {
		c := sock.Data.(*Conn)
		for _, h := range s.onConn {
			h(c)
		}
	})
	nsp.OnDisconnect(func(sock *socketio.Socket, reason string) {
		c := sock.Data.(*Conn)
		s.releaseSocket(c.UserID)
		for _, h := range s.onDisc {
			h(c, reason)
		}
	})
	nsp.OnAbandon(func(sock *socketio.Socket) { s.releaseSocket(sock.Data.(*Conn).UserID) })
	if svc.Messages != nil {
		s.messageEvents(svc.Messages)
	}
	if svc.Presence != nil && svc.Typing != nil && svc.Receipts != nil {
		s.realtimeEvents(svc.Presence, svc.Typing, svc.Receipts)
	}
	if svc.Reactions != nil {
		s.reactionEvents(svc.Reactions)
	}
	return s
}

// onConnect and onDisconnect add lifecycle hooks (presence).
func (s *Server) onConnect(h ConnectHook)       { s.onConn = append(s.onConn, h) }
func (s *Server) onDisconnect(h DisconnectHook) { s.onDisc = append(s.onDisc, h) }

// reserveSocket takes one of a user's connection slots; it reports false (and takes nothing) when all are in use.
func (s *Server) reserveSocket(userID int64) bool {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if s.perUser[userID] >= s.maxPerUser {
		return false
	}
	s.perUser[userID]++
	return true
}

// releaseSocket gives a slot back (the socket closed, or its handshake failed after the slot was taken).
func (s *Server) releaseSocket(userID int64) {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if s.perUser[userID]--; s.perUser[userID] <= 0 {
		delete(s.perUser, userID)
	}
}

func refuse(code, reason string) error {
	return &socketio.ConnectError{Message: code, Data: map[string]string{"reason": reason}}
}

func (s *Server) authenticate(parent context.Context, sock *socketio.Socket) error {
	var hs struct {
		Token  string `json:"token"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal(sock.Auth(), &hs)
	if hs.Token == "" {
		return refuse("unauthorized", "missing token")
	}
	ctx, cancel := context.WithTimeout(parent, 5*time.Second)
	defer cancel()
	actions := s.hub.local.Actions() // before anything is read: see joinRooms
	claims, err := s.auth.Authenticate(ctx, hs.Token)
	if err != nil {
		e := apperr.As(err)
		code := "unauthorized"
		switch e.Kind {
		case apperr.TokenExpired:
			code = "token_expired"
		case apperr.Unavailable, apperr.Internal:
			code = "unavailable"
		}
		return refuse(code, e.Message)
	}
	// The slot is taken here, not when the socket is connected: the client hears CONNECT before the connection
	// hooks run, and its next handshake must already see this socket counted.
	if !s.reserveSocket(claims.UserID) {
		return refuse("too_many_connections", fmt.Sprintf("at most %d connections per account; close another tab or device", s.maxPerUser))
	}
	c := &Conn{UserID: claims.UserID, SessionID: claims.SessionID, Socket: sock, Status: hs.Status}
	// Rooms are joined here, before the client learns it is connected: an event sent to a room right after
	// the client's "connect" must not miss it (the client buffers events that come before the CONNECT answer).
	if err := s.joinRooms(ctx, c, actions); err != nil {
		s.releaseSocket(c.UserID)
		if apperr.Is(err, apperr.Unauthorized) {
			return refuse("unauthorized", "session has ended")
		}
		s.log.ErrorContext(ctx, "socket rooms could not be loaded", "user", c.UserID, "err", err)
		return refuse("unavailable", "could not load your channels")
	}
	sock.Data = c
	return nil
}

// joinRooms puts a connecting socket in its user's, session's, channels' and servers' rooms. The lists are read
// before the socket is in the rooms that kicks and revocations select it by, so one of those may run in
// between and miss it (a kicked user would keep receiving). actions is the adapter's action count from before
// the session and the lists were read: while it moves, the session is checked and the lists read again, and
// the rooms corrected. Once the socket is in its user and session rooms, later actions reach it directly.
func (s *Server) joinRooms(ctx context.Context, c *Conn, actions uint64) error {
	c.Socket.Join(UserRoom(c.UserID), SessionRoom(c.SessionID))
	if s.rooms == nil {
		return nil
	}
	var joined map[socketio.Room]bool
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := s.auth.CheckSession(ctx, c.SessionID); err != nil {
				return err
			}
		}
		want, err := s.roomsOf(ctx, c.UserID)
		if err != nil {
			return err
		}
		var join, leave []socketio.Room
		for r := range want {
			if !joined[r] {
				join = append(join, r)
			}
		}
		for r := range joined {
			if !want[r] {
				leave = append(leave, r)
			}
		}
		c.Socket.Join(join...)
		c.Socket.Leave(leave...)
		joined = want
		now := s.hub.local.Actions()
		if now == actions || attempt == 3 {
			return nil
		}
		actions = now
	}
}

// roomsOf reads the channel and server rooms of a user.
func (s *Server) roomsOf(ctx context.Context, userID int64) (map[socketio.Room]bool, error) {
	chans, err := s.rooms.ReadableChannelIDs(ctx, userID)
	if err != nil {
		return nil, err
	}
	servers, err := s.rooms.ServerIDs(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[socketio.Room]bool, len(chans)+len(servers))
	for _, id := range chans {
		out[ChannelRoom(id)] = true
	}
	for _, id := range servers {
		out[ServerRoom(id)] = true
	}
	return out, nil
}

// on registers an event whose first argument decodes into P. The wrapper re-checks the session, decodes,
// recovers panics and answers the ack: {ok:true,...result} or {ok:false,error}. Each event gets its own
// request id (in the context, so in its log lines, and in an error ack) and its outcome is counted.
func on[P any](s *Server, event string, h Handler[P]) {
	limit := s.limits[event]
	s.hub.nsp.On(event, func(sock *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
		c := sock.Data.(*Conn)
		id := reqid.New()
		if limit != nil {
			if ok, wait := limit.Allow(strconv.FormatInt(c.UserID, 10)); !ok {
				s.metrics.Event(event, string(apperr.RateLimited))
				if ack != nil {
					ack(errorAck(apperr.RateLimit(wait), id))
				}
				return
			}
		}
		// The span lives until the event is answered: for message:send, until the message is stored.
		ctx, span := s.tracer.Start(reqid.With(context.Background(), id), "socket "+event, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("parley.event", event), attribute.Int64("enduser.id", c.UserID),
				attribute.String("parley.request_id", id)))
		var once sync.Once
		reply := func(res wire.Ack, err error) {
			once.Do(func() { // a handler's reply and the panic guard's must count once
				outcome := "ok"
				if err != nil {
					outcome = string(apperr.As(err).Kind)
					span.SetStatus(codes.Error, outcome)
				}
				span.SetAttributes(attribute.String("parley.outcome", outcome))
				span.End()
				s.metrics.Event(event, outcome)
			})
			if ack == nil {
				return
			}
			if err != nil {
				ack(errorAck(err, id))
				return
			}
			ack(okAck(res))
		}
		ctx, cancel := context.WithTimeout(ctx, handlerTimeout)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log.ErrorContext(ctx, "panic in socket handler", "event", event, "user", c.UserID, "panic", r)
				reply(nil, apperr.New(apperr.Internal, "internal error"))
			}
		}()
		if err := s.auth.CheckSession(ctx, c.SessionID); err != nil {
			reply(nil, err)
			if apperr.Is(err, apperr.Unauthorized) {
				_ = sock.Emit(wire.EventSessionRevoked, wire.SessionRevokedEvent{Reason: "session_ended"})
				sock.Disconnect(false)
			}
			return
		}
		var p P
		if len(args.Raw) == 0 {
			reply(nil, apperr.New(apperr.Invalid, "payload must be a JSON object"))
			return
		}
		if err := decode(args.Raw[0], &p); err != nil {
			reply(nil, err)
			return
		}
		h(ctx, c, p, reply)
	})
}

// decode unmarshals one event argument with a clear error for malformed input.
func decode(raw json.RawMessage, dst any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return apperr.New(apperr.Invalid, "payload must be a JSON object")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return apperr.New(apperr.Invalid, "payload has the wrong shape: "+err.Error())
	}
	return nil
}

// okAck is a successful answer: the handler's typed result, or {ok: true} for an event without one.
func okAck(res wire.Ack) any {
	if res == nil {
		return okOnly
	}
	return res
}

var okOnly = struct {
	OK bool `json:"ok"`
}{true}

// errorAck is an error answer; requestId names the event in the server's log.
func errorAck(err error, requestID string) map[string]any {
	e := apperr.As(err)
	body := map[string]any{"code": string(e.Kind), "message": e.Message, "retryable": e.Retryable(), "requestId": requestID}
	if e.Field != "" {
		body["field"] = e.Field
	}
	if e.RetryAfter > 0 {
		body["retryAfterMs"] = e.RetryAfter.Milliseconds()
	}
	return map[string]any{"ok": false, "error": body}
}
