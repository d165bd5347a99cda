// Package socketapi is the Socket.IO side of the controllers: the handshake (token + Origin checks), room
// membership, and the event handlers. Every event goes through Server.handle, which re-checks the session,
// decodes the payload, recovers panics and answers the ack in one shape.
package socketapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/parleychat/parley/internal/apperr"
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
	// MaxPayloadBytes caps one incoming packet (after decompression).
	MaxPayloadBytes int64
	// ConnectTimeout bounds the wait for a client's CONNECT packet (see notes: keep it short).
	ConnectTimeout time.Duration
}

// Conn is what the server knows about an authenticated socket.
type Conn struct {
	UserID    int64
	SessionID int64
	Socket    *socket.Socket
}

// EventHandler handles one event. It returns the ack payload fields (merged into {ok:true,...}) or an error.
// A handler that finishes its work later (after a durable write) returns Deferred and calls reply itself.
type EventHandler func(ctx context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error)

// Deferred tells handle that the handler will call reply itself.
var Deferred = &struct{ deferred bool }{true}

// ConnectHook runs for every new authenticated socket (presence, etc.). DisconnectHook when it closes.
type (
	ConnectHook    func(c *Conn)
	DisconnectHook func(c *Conn, reason string)
)

// Server wraps the Socket.IO server.
type Server struct {
	io       *socket.Server
	auth     Authenticator
	rooms    RoomSource
	log      *slog.Logger
	cfg      Config
	origins  map[string]bool
	handlers map[string]EventHandler
	onConn   []ConnectHook
	onDisc   []DisconnectHook
}

// handlerTimeout bounds the work one event may do.
const handlerTimeout = 10 * time.Second

// Room names.
func UserRoom(id int64) socket.Room    { return socket.Room("user:" + strconv.FormatInt(id, 10)) }
func ChannelRoom(id int64) socket.Room { return socket.Room("channel:" + strconv.FormatInt(id, 10)) }
func ServerRoom(id int64) socket.Room  { return socket.Room("server:" + strconv.FormatInt(id, 10)) }
func SessionRoom(id int64) socket.Room { return socket.Room("session:" + strconv.FormatInt(id, 10)) }

// New creates the Socket.IO server. Register handlers with On before serving.
func New(authn Authenticator, cfg Config, log *slog.Logger) *Server {
	if cfg.MaxPayloadBytes == 0 {
		cfg.MaxPayloadBytes = 64 * 1024
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	s := &Server{auth: authn, log: log, cfg: cfg, origins: map[string]bool{}, handlers: map[string]EventHandler{}}
	for _, o := range cfg.AllowedOrigins {
		s.origins[strings.TrimRight(o, "/")] = true
	}

	opts := socket.DefaultServerOptions()
	opts.SetMaxHttpBufferSize(cfg.MaxPayloadBytes)
	opts.SetConnectTimeout(cfg.ConnectTimeout)
	opts.SetAllowRequest(s.checkOrigin)
	// A huge threshold keeps the engine off its per-recipient frame path: about half the fan-out CPU.
	opts.SetPerMessageDeflate(&types.PerMessageDeflate{Threshold: 1 << 30})
	s.io = socket.NewServer(nil, opts)
	s.io.Use(s.authenticate)
	s.io.On("connection", func(args ...any) { s.onConnection(args[0].(*socket.Socket)) })
	return s
}

// SetRooms plugs in the source of each user's channel rooms (the community service, built after the server
// because it publishes through it).
func (s *Server) SetRooms(r RoomSource) { s.rooms = r }

// Handler is the HTTP handler to mount at /socket.io/.
//
// It refuses permessage-deflate by removing the client's offer: the websocket library checks the read limit
// against compressed frame sizes, so a small compressed frame could inflate to many megabytes (a
// decompression bomb). Without compression every frame is bounded by MaxPayloadBytes as sent.
func (s *Server) Handler() http.Handler {
	h := s.io.ServeHandler(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Sec-WebSocket-Extensions")
		h.ServeHTTP(w, r)
	})
}

// On registers an event handler.
func (s *Server) On(event string, h EventHandler) { s.handlers[event] = h }

// OnConnect and OnDisconnect register lifecycle hooks.
func (s *Server) OnConnect(h ConnectHook)       { s.onConn = append(s.onConn, h) }
func (s *Server) OnDisconnect(h DisconnectHook) { s.onDisc = append(s.onDisc, h) }

// checkOrigin refuses browser handshakes from origins not on the allowlist (cross-site WebSocket hijacking).
// Requests without an Origin header are not from a browser page and carry no ambient credentials.
func (s *Server) checkOrigin(ctx *types.HttpContext) error {
	origin := ctx.Request().Header.Get("Origin")
	if origin == "" || s.origins[strings.TrimRight(origin, "/")] {
		return nil
	}
	s.log.Warn("socket handshake from a foreign origin refused", "origin", origin)
	return fmt.Errorf("origin not allowed")
}

func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	token, _ := sock.Handshake().Auth["token"].(string)
	if token == "" {
		next(socket.NewExtendedError("unauthorized", map[string]any{"reason": "missing token"}))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claims, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		e := apperr.As(err)
		code := "unauthorized"
		switch e.Kind {
		case apperr.TokenExpired:
			code = "token_expired"
		case apperr.Unavailable, apperr.Internal:
			code = "unavailable"
		}
		next(socket.NewExtendedError(code, map[string]any{"reason": e.Message}))
		return
	}
	c := &Conn{UserID: claims.UserID, SessionID: claims.SessionID, Socket: sock}
	// Rooms are joined here, before the client learns it is connected: an event sent to a room right after
	// the client's "connect" must not miss it.
	if err := s.joinRooms(ctx, c); err != nil {
		s.log.Error("socket rooms could not be loaded", "user", c.UserID, "err", err)
		next(socket.NewExtendedError("unavailable", map[string]any{"reason": "could not load your channels"}))
		return
	}
	sock.SetData(c)
	next(nil)
}

func (s *Server) joinRooms(ctx context.Context, c *Conn) error {
	rooms := []socket.Room{UserRoom(c.UserID), SessionRoom(c.SessionID)}
	if s.rooms != nil {
		chans, err := s.rooms.ReadableChannelIDs(ctx, c.UserID)
		if err != nil {
			return err
		}
		servers, err := s.rooms.ServerIDs(ctx, c.UserID)
		if err != nil {
			return err
		}
		for _, id := range chans {
			rooms = append(rooms, ChannelRoom(id))
		}
		for _, id := range servers {
			rooms = append(rooms, ServerRoom(id))
		}
	}
	c.Socket.Join(rooms...)
	return nil
}

func (s *Server) onConnection(sock *socket.Socket) {
	c, ok := sock.Data().(*Conn)
	if !ok {
		sock.Disconnect(true)
		return
	}
	for event, h := range s.handlers {
		sock.On(event, s.handle(c, event, h))
	}
	sock.On("disconnect", func(args ...any) {
		reason := ""
		if len(args) > 0 {
			reason, _ = args[0].(string)
		}
		for _, h := range s.onDisc {
			h(c, reason)
		}
	})
	for _, h := range s.onConn {
		h(c)
	}
}

// handle wraps an event handler: session re-check, payload decoding, panic recovery, uniform acks.
func (s *Server) handle(c *Conn, event string, h EventHandler) func(...any) {
	return func(args ...any) {
		var ack socket.Ack
		if n := len(args); n > 0 {
			if a, ok := args[n-1].(socket.Ack); ok {
				ack = a
				args = args[:n-1]
			} else if f, ok := args[n-1].(func([]any, error)); ok {
				ack = f
				args = args[:n-1]
			}
		}
		reply := func(res any, err error) {
			if ack == nil {
				return
			}
			if err != nil {
				ack([]any{errorAck(err)}, nil)
				return
			}
			ack([]any{okAck(res)}, nil)
		}
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in socket handler", "event", event, "user", c.UserID, "panic", r)
				reply(nil, apperr.New(apperr.Internal, "internal error"))
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
		defer cancel()
		if err := s.auth.CheckSession(ctx, c.SessionID); err != nil {
			reply(nil, err)
			if apperr.Is(err, apperr.Unauthorized) {
				c.Socket.Emit("session:revoked", map[string]any{"reason": "session_ended"})
				c.Socket.Disconnect(false)
			}
			return
		}
		var payload json.RawMessage
		if len(args) > 0 {
			b, err := json.Marshal(args[0])
			if err != nil {
				reply(nil, apperr.New(apperr.Invalid, "payload must be a JSON object"))
				return
			}
			payload = b
		}
		res, err := h(ctx, c, payload, reply)
		if res == Deferred && err == nil {
			return
		}
		reply(res, err)
	}
}

func okAck(res any) any {
	out := map[string]any{"ok": true}
	switch v := res.(type) {
	case nil:
	case map[string]any:
		for k, x := range v {
			out[k] = x
		}
	default:
		out["data"] = v
	}
	return out
}

func errorAck(err error) map[string]any {
	e := apperr.As(err)
	body := map[string]any{"code": string(e.Kind), "message": e.Message, "retryable": e.Retryable()}
	if e.Field != "" {
		body["field"] = e.Field
	}
	if e.RetryAfter > 0 {
		body["retryAfterMs"] = e.RetryAfter.Milliseconds()
	}
	return map[string]any{"ok": false, "error": body}
}

// Decode unmarshals a payload into dst with a clear error for malformed input.
func Decode(payload json.RawMessage, dst any) error {
	if len(payload) == 0 || string(payload) == "null" {
		return apperr.New(apperr.Invalid, "payload must be a JSON object")
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return apperr.New(apperr.Invalid, "payload has the wrong shape: "+err.Error())
	}
	return nil
}

// SessionRevoked disconnects every socket of a session (auth.RevocationListener).
func (s *Server) SessionRevoked(sessionID, _ int64, reason string) {
	room := SessionRoom(sessionID)
	_ = s.io.To(room).Emit("session:revoked", map[string]any{"reason": reason})
	s.io.In(room).DisconnectSockets(false) // a DISCONNECT packet: clients do not auto-reconnect
}

// Close stops accepting sockets and closes the open ones.
func (s *Server) Close() {
	done := make(chan struct{})
	s.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
