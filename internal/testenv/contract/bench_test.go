package contract

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The cost the checker adds to each test request and socket payload (make test runs thousands).
func BenchmarkMiddleware(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"id":"250000000000000001","name":"Rust Lovers","ownerId":"250000000000000002","role":"owner","memberCount":3,"createdAt":"2026-12-06T10:00:00Z","membersCanInvite":true}`)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	req := httptest.NewRequest("GET", "http://127.0.0.1/api/servers/250000000000000001", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if p := c.Problems(); len(p) > 0 {
		b.Fatal(p)
	}
}

func BenchmarkTap(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	msg := map[string]any{"id": "250000000000000001", "channelId": "250000000000000003", "senderId": "250000000000000002",
		"content": "hello there", "timestamp": "2026-12-06T10:00:00Z", "nonce": "n1", "mentions": []string{},
		"mentionEveryone": false, "replyTo": nil, "type": "default"}
	b.ReportAllocs()
	for b.Loop() {
		c.Tap("message:new", false, []any{msg})
	}
	if p := c.Problems(); len(p) > 0 {
		b.Fatal(p)
	}
}
