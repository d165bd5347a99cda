package keysapi

import (
	"net/http"
	"strings"
	"time"
)

// Recorder counts REST requests (internal/metrics).
type Recorder interface {
	Request(method, route string, status int, d time.Duration)
}

// Instrument records every request of next by its route pattern (e.g. /v1/groups/{id}/commits, never the raw
// path: ids would make a series each; "unmatched" for unknown paths), status and latency, and serves metrics at
// GET /metrics when it is not nil (nil: the metrics are served elsewhere, or not at all).
func Instrument(next http.Handler, rec Recorder, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if metrics != nil && r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			metrics.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		// The ServeMux sets the pattern it matched on the request it was handed, which is r (CORS passes it on).
		route := "unmatched"
		if _, path, ok := strings.Cut(r.Pattern, " "); ok {
			route = path
		}
		rec.Request(r.Method, route, sw.status, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
