// Command conformance is the test-mode server for the official Engine.IO and Socket.IO compliance suites
// (scripts/conformance.sh runs them). It serves, on one port, an Engine.IO echo server at /engine.io/ and a
// Socket.IO server at /socket.io/, configured as the suites' README asks: pingInterval 300 ms, pingTimeout
// 200 ms, maxPayload 1e6, connectTimeout 1 s, CORS "*".
package main

import (
	"flag"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/parleychat/parley/internal/engineio"
	"github.com/parleychat/parley/internal/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engineCfg := engineio.Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond,
		MaxPayload: 1_000_000, CORSOrigin: "*"}

	mux := http.NewServeMux()
	sched := engineio.NewScheduler()
	mux.Handle("/engine.io/", engineio.New(engineCfg, echo{}, sched, log))
	mux.Handle("/socket.io/", newSocketIO(engineCfg, log))
	log.Warn("conformance server listening", "addr", *addr)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// echo sends every message back unchanged.
type echo struct{}

func (echo) OnOpen(*engineio.Conn, *http.Request) {}
func (echo) OnClose(*engineio.Conn, string)       {}
func (echo) OnMessage(c *engineio.Conn, data []byte, binary bool) {
	if binary {
		c.Send(engineio.NewBinary(data))
		return
	}
	c.Send(engineio.NewMessage(data))
}

func newSocketIO(engineCfg engineio.Config, log *slog.Logger) http.Handler {
	io := socketio.New(socketio.Config{Engine: engineCfg, ConnectTimeout: time.Second}, log)
	for _, name := range []string{"/", "/custom"} {
		nsp := io.Of(name)
		nsp.OnConnection(func(s *socketio.Socket) { _ = s.Emit("auth", s.Auth()) })
		nsp.On("message", func(s *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
			_ = s.Emit("message-back", args)
		})
		nsp.On("message-with-ack", func(_ *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			if ack != nil {
				ack(args)
			}
		})
	}
	return io
}
