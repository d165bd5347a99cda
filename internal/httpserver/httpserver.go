// Package httpserver builds the public http.Server: connection timeouts, and per-request read and write
// deadlines that cut a trickled body or a client that stops reading, without cutting WebSockets (which live
// longer than any request) or long-polls (which wait up to a ping interval for something to send).
package httpserver

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Config bounds what one client may hold.
type Config struct {
	// BodyTimeout is the time a request's body has to arrive, counted from the end of its headers.
	BodyTimeout time.Duration
	// WriteTimeout is the time to answer a request, a long-poll's wait included.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout time.Duration
	// HeaderTimeout is the time the request line and headers have to arrive (10 s).
	HeaderTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (64 KiB).
	MaxHeaderBytes int
	// MaxBodyBytes bounds every request body (1 MiB): the largest handlers accept (JSON bodies, a long-polling
	// POST of 1,000,000 bytes) fit, and a larger declared body is refused before it is read.
	MaxBodyBytes int64
	// LargeBody picks the requests that may send a large body slowly (file uploads): LargeBodyBytes and
	// LargeBodyTimeout apply to them instead, and their write deadline starts after that time.
	LargeBody        func(*http.Request) bool
	LargeBodyBytes   int64
	LargeBodyTimeout time.Duration
}

func (c *Config) defaults() {
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = 10 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
}

// New returns a server for h with the limits of cfg. ReadTimeout and WriteTimeout stay zero on purpose: they
// would apply to WebSockets too; Deadlines sets them per request instead.
func New(h http.Handler, cfg Config) *http.Server {
	cfg.defaults()
	return &http.Server{
		Handler:           Deadlines(h, cfg),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
}

// Deadlines sets a request's read deadline (while its body arrives) and write deadline, and bounds its body.
// WebSocket upgrades pass untouched: the connection outlives the request (net/http clears a connection's
// deadlines when it is hijacked), and the Engine.IO server runs its own heartbeats and write deadlines on it.
func Deadlines(h http.Handler, cfg Config) http.Handler {
	cfg.defaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			h.ServeHTTP(w, r)
			return
		}
		maxBody, bodyTimeout, writeTimeout := cfg.MaxBodyBytes, cfg.BodyTimeout, cfg.WriteTimeout
		if cfg.LargeBody != nil && cfg.LargeBody(r) {
			maxBody, bodyTimeout = cfg.LargeBodyBytes, cfg.LargeBodyTimeout
			if writeTimeout > 0 {
				writeTimeout += bodyTimeout
			}
		}
		if r.ContentLength > maxBody {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"error":{"code":"payload_too_large","message":"request body is too large"}}`)
			return
		}
		// net/http clears both deadlines after each request, and the read deadline again once the body has been
		// read (it then reads in the background to notice a client that goes away).
		rc := http.NewResponseController(w)
		if writeTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			if bodyTimeout > 0 {
				_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		h.ServeHTTP(w, r)
	})
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header.Get("Connection"), "upgrade") && r.Header.Get("Upgrade") != ""
}

func headerHasToken(v, token string) bool {
	for _, item := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(item), token) {
			return true
		}
	}
	return false
}
