package keysclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
)

// The mapping of the key service's answers (the real key service is exercised end to end by
// controllers/socketapi's admission test; here every kind of answer, including ones it should never give).
func TestAnswers(t *testing.T) {
	answers := map[string]struct {
		status int
		body   string
	}{
		"/v1/groups/ok/messages":         {200, `{"group":{"id":"ok","channelId":"42","epoch":3}}`},
		"/v1/groups/overdue/messages":    {409, `{"error":{"code":"rotation_overdue","message":"commit first"}}`},
		"/v1/groups/stale/messages":      {409, `{"error":{"code":"stale_epoch","message":"catch up"}}`},
		"/v1/groups/conflict/messages":   {409, `{"error":{"code":"conflict","message":"?"}}`},
		"/v1/groups/gone/messages":       {404, `{"error":{"code":"not_found","message":"group not found"}}`},
		"/v1/groups/bad/messages":        {400, `{"error":{"code":"invalid_input","message":"epoch"}}`},
		"/v1/groups/broken/messages":     {500, `oops`},
		"/v1/groups/garbled/messages":    {200, `{"group":`},
		"/v1/groups/badchannel/messages": {200, `{"group":{"id":"x","channelId":"nope","epoch":3}}`},
		"/v1/groups/ok":                  {200, `{"group":{"id":"ok","channelId":"42","epoch":3,"messages":1}}`},
	}
	var auth string
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		a, ok := answers[r.URL.Path]
		if !ok {
			a.status, a.body = 404, `{}`
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer ks.Close()
	u, _ := url.Parse(ks.URL)
	c := New(u, 5*time.Second)
	ctx := context.Background()

	g, err := c.AdmitMessage(ctx, "tok", "ok", 3)
	if err != nil || g.ChannelID != 42 || g.Epoch != 3 || auth != "Bearer tok" {
		t.Fatalf("admitted: %+v %v (auth %q)", g, err, auth)
	}
	if g, err := c.Group(ctx, "tok", "ok"); err != nil || g.ChannelID != 42 {
		t.Fatalf("group: %+v %v", g, err)
	}
	for group, kind := range map[string]apperr.Kind{"overdue": apperr.RotationOverdue, "stale": apperr.StaleEpoch, "gone": apperr.NotFound,
		"bad": apperr.Invalid, "conflict": apperr.Unavailable, "broken": apperr.Unavailable, "garbled": apperr.Unavailable, "badchannel": apperr.Unavailable} {
		if _, err := c.AdmitMessage(ctx, "tok", group, 3); !apperr.Is(err, kind) {
			t.Errorf("%s: %v, want %s", group, err, kind)
		}
	}
	ks.Close()
	if _, err := c.AdmitMessage(ctx, "tok", "ok", 3); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("closed: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Group(cancelled, "tok", "ok"); err == nil || apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("cancelled: %v, want the cancellation itself", err)
	}
}
