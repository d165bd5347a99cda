package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A nil *Metrics records nothing and does not panic (parts of the server built without metrics).
func TestNilMetricsAreSafe(t *testing.T) {
	var m *Metrics
	m.Handshake("ok")
	m.Event("message:send", "ok")
	m.SendAcked(time.Millisecond)
	m.SendRefused("unavailable")
	m.Flushed(3, time.Millisecond, true)
	m.DBCall(context.Background(), "postgres", "select", time.Now(), time.Now(), nil)
	m.Swept(nil)
	m.Request("GET", "/x", 200, time.Millisecond)
	m.Gauge("g", "h", func() float64 { return 1 })
	m.GaugeByLabel("g2", "h", "l", []string{"a"}, func() map[string]int { return nil })
}

func TestExposition(t *testing.T) {
	m := New(42)
	m.DBCall(context.Background(), "postgres", "SELECT", time.Now().Add(-time.Millisecond), time.Now(), errors.New("down"))
	m.Flushed(4, time.Millisecond, false)
	m.GaugeByLabel("parley_sockets", "h", "transport", []string{"websocket", "polling"}, func() map[string]int { return map[string]int{"websocket": 3} })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`parley_db_errors_total{node="42",op="select",store="postgres"} 1`,
		`parley_flush_failures_total{node="42"} 1`,
		`parley_flush_batch_messages_sum{node="42"} 4`,
		`parley_sockets{node="42",transport="polling"} 0`,
		`parley_sockets{node="42",transport="websocket"} 3`,
		`go_goroutines{node="42"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
}
