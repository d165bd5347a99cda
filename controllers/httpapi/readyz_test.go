package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Finding 14: /readyz answers anyone, so it says which store is down but not the driver's error (hosts, users,
// versions); the error goes to the log, once per change.
func TestReadyzNamesTheStoreButNotTheError(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	pgErr := errors.New("failed to connect to `user=parley database=prod host=10.1.2.3`: dial tcp 10.1.2.3:5432: connection refused")
	down := true
	checks := []HealthCheck{
		{Name: "postgres", Check: func(context.Context) error {
			if down {
				return pgErr
			}
			return nil
		}},
		{Name: "mongodb", Check: func(context.Context) error { return nil }},
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/readyz", readyz(checks, log))
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w
	}
	for i := 0; i < 3; i++ {
		w := get()
		body := w.Body.String()
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(body, `"postgres":{"status":"down"}`) || !strings.Contains(body, `"mongodb":{"status":"ok"}`) {
			t.Fatalf("down: %d %s", w.Code, body)
		}
		if strings.Contains(body, "10.1.2.3") || strings.Contains(body, "refused") || strings.Contains(body, "error") {
			t.Fatalf("driver text in the answer: %s", body)
		}
	}
	if n := strings.Count(logs.String(), "store is down"); n != 1 || !strings.Contains(logs.String(), "10.1.2.3:5432") {
		t.Fatalf("the cause should be logged once while it lasts, got %d: %s", n, logs.String())
	}
	down = false
	if w := get(); w.Code != http.StatusOK || !strings.Contains(logs.String(), "up again") {
		t.Fatalf("recovered: %d %s / %s", w.Code, w.Body, logs.String())
	}
}
