package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"degraded","checks":{"cassandra":{"status":"down"}}}`))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/readyz", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cases := []struct {
		path    string
		wantErr string // "" = healthy
	}{
		{"/readyz", ""},
		{"/down", "HTTP 503"},
		{"/down", "cassandra"}, // the body says which dependency is down
		{"/slow", "deadline exceeded"},
		{"/redirect", "HTTP 302"},
	}
	for _, c := range cases {
		err := probe(context.Background(), http.DefaultTransport, srv.URL+c.path, 300*time.Millisecond)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.path, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", c.path, err, c.wantErr)
		}
	}

	// Nothing listening at all.
	closed := httptest.NewServer(mux)
	closed.Close()
	if err := probe(context.Background(), http.DefaultTransport, closed.URL+"/readyz", time.Second); err == nil {
		t.Error("probe of a closed port succeeded")
	}
	if err := probe(context.Background(), http.DefaultTransport, "::not a url", time.Second); err == nil {
		t.Error("probe of a malformed URL succeeded")
	}
}
