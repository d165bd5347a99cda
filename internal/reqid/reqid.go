// Package reqid carries a request id through a unit of work (one REST request, one socket event) so every log
// line of that work, and its error answer, can be tied together. An id comes from the caller's X-Request-Id when
// it is safe to log, otherwise it is generated.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Header is the HTTP header a request id is read from and echoed in.
const Header = "X-Request-Id"

// MaxLen bounds an accepted id: it is logged with every line of the request.
const MaxLen = 128

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// From is the id ctx carries ("" for none).
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New generates an id: 16 random bytes in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Valid reports whether a client's id may be used as is: 1–MaxLen characters of letters, digits and - _ . : /
// (what tracing systems and proxies send), so it cannot forge log lines or smuggle markup.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/':
		default:
			return false
		}
	}
	return true
}

// Accept returns the client's id when valid, else a new one.
func Accept(id string) string {
	if Valid(id) {
		return id
	}
	return New()
}

// LogHandler adds request_id to every record logged with a context that carries one (log.InfoContext(ctx, …)),
// and trace_id when the context holds a recorded trace span, so a log line leads to its trace.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(logHandler); ok {
		return h
	}
	return logHandler{h}
}

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
