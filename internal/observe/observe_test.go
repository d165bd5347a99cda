package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type call struct {
	store, op string
	err       error
	ctx       context.Context
	took      time.Duration
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) DBCall(ctx context.Context, store, op string, start, end time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{store, op, err, ctx, end.Sub(start)})
}

type ctxKey struct{}

// Each round trip is one call with the request's context; 404 is an answer, 503 and a refused connection are errors.
func TestTransportReportsEachRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			time.Sleep(2 * time.Millisecond)
		}
	}))
	var rec recorder
	c := &http.Client{Transport: Transport(nil, "s3", &rec, func(r *http.Request) string { return strings.ToLower(r.Method) })}
	ctx := context.WithValue(context.Background(), ctxKey{}, "work")
	for _, path := range []string{"/ok", "/missing", "/down"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	srv.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/gone", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("a closed server answered")
	}

	if len(rec.calls) != 4 {
		t.Fatalf("%d calls reported, want 4", len(rec.calls))
	}
	for i, want := range []struct {
		op     string
		failed bool
	}{{"get", false}, {"get", false}, {"get", true}, {"put", true}} {
		c := rec.calls[i]
		if c.store != "s3" || c.op != want.op || (c.err != nil) != want.failed || c.ctx.Value(ctxKey{}) != "work" {
			t.Errorf("call %d: %+v, want op %s failed %v with the request's context", i, c, want.op, want.failed)
		}
	}
	if rec.calls[0].took < 2*time.Millisecond {
		t.Errorf("the first call took %v, less than the server's 2 ms", rec.calls[0].took)
	}
}
