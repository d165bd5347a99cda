// Package observe reports the calls a store makes over HTTP (OpenSearch, S3) to the same observer the database
// drivers' hooks report to (metrics per store and operation; a tracing span under the work in the request's
// context), so every store shows up the same way.
package observe

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Observer hears every store call when it ends.
type Observer interface {
	DBCall(ctx context.Context, store, op string, start, end time.Time, err error)
}

// Transport wraps base so that each round trip is reported as a call of store, with the operation op(request)
// (a short, bounded label: never a path with ids in it). The call ends when the response headers arrive. A
// transport error, 429 or 5xx counts as an error; other statuses (a 404 for a missing object) are answers.
func Transport(base http.RoundTripper, store string, obs Observer, op func(*http.Request) string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, store: store, obs: obs, op: op}
}

type transport struct {
	base  http.RoundTripper
	store string
	obs   Observer
	op    func(*http.Request) string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.base.RoundTrip(req)
	failed := err
	if err == nil && (res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests) {
		failed = fmt.Errorf("%s answered %d", t.store, res.StatusCode)
	}
	t.obs.DBCall(req.Context(), t.store, t.op(req), start, time.Now(), failed)
	return res, err
}
