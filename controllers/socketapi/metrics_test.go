package socketapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/sioclient"
)

// A scripted conversation moves the counters an operator watches, and /metrics shows them with the node label.
func TestMetricsAfterAConversation(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_NODE_ID": "7", "PARLEY_SEND_BURST": "5", "PARLEY_SEND_RATE": "1"}})
	alice, bob := s.Register(t, "alice_metrics"), s.Register(t, "bob_metrics")
	_, channelID := community(t, s, alice, bob)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	newMsgs := make(chan string, 16)
	bc, err := sioclient.Connect(ctx, s.URL, bob.AccessToken, sioclient.Options{OnEvent: func(name string, _ []json.RawMessage) {
		if name == "message:new" {
			newMsgs <- name
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	ac, err := sioclient.Connect(ctx, s.URL, alice.AccessToken, sioclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if _, err := sioclient.Connect(ctx, s.URL, "not-a-token", sioclient.Options{}); err == nil {
		t.Fatal("a forged token connected")
	}

	// Five sends pass (burst 5), the next ones are refused as rate_limited; one is malformed.
	okSends, limited := 0, 0
	for i := range 7 {
		raw, err := ac.EmitAck(ctx, "message:send", map[string]string{"channelId": channelID, "content": fmt.Sprint("hello ", i), "nonce": fmt.Sprint("n", i)})
		if err != nil {
			t.Fatal(err)
		}
		var ack struct {
			OK    bool
			Error struct{ Code string }
		}
		_ = json.Unmarshal(raw, &ack)
		switch {
		case ack.OK:
			okSends++
		case ack.Error.Code == "rate_limited":
			limited++
		default:
			t.Fatalf("send %d: %s", i, raw)
		}
	}
	if okSends != 5 || limited != 2 {
		t.Fatalf("%d sent, %d rate-limited; want 5 and 2", okSends, limited)
	}
	if raw, _ := ac.EmitAck(ctx, "typing:start", map[string]string{"channelId": "nope"}); !strings.Contains(string(raw), "invalid_input") {
		t.Fatalf("typing:start with a bad id: %s", raw)
	}
	for range 5 {
		select {
		case <-newMsgs:
		case <-ctx.Done():
			t.Fatal("bob did not get the five messages")
		}
	}
	s.App.Presence.Sweep(ctx)

	mf := scrape(t, s)
	want := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"parley_sockets", map[string]string{"transport": "websocket"}, 2},
		{"parley_socket_handshakes_total", map[string]string{"result": "ok"}, 2},
		{"parley_socket_handshakes_total", map[string]string{"result": "unauthorized"}, 1},
		{"parley_socket_events_total", map[string]string{"event": "message:send", "outcome": "ok"}, 5},
		{"parley_socket_events_total", map[string]string{"event": "message:send", "outcome": "rate_limited"}, 2},
		{"parley_socket_events_total", map[string]string{"event": "typing:start", "outcome": "invalid_input"}, 1},
		{"parley_messages_refused_total", map[string]string{"code": "rate_limited"}, 2},
		{"parley_message_ack_seconds", nil, 5},
		{"parley_flush_batch_messages", nil, 1},
		{"parley_flush_seconds", nil, 1},
		{"parley_db_call_seconds", map[string]string{"store": "cassandra", "op": "batch"}, 1},
		{"parley_db_call_seconds", map[string]string{"store": "postgres", "op": "insert"}, 1},
		{"parley_db_call_seconds", map[string]string{"store": "mongodb"}, 1},
		{"parley_presence_sweeps_total", map[string]string{"result": "ok"}, 1},
		{"parley_http_requests_total", map[string]string{"method": "POST", "route": "/api/servers", "status": "201"}, 1},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, w := range want {
		if got := sum(mf[w.name], w.labels); got < w.min {
			t.Errorf("%s%v = %v, want at least %v", w.name, w.labels, got, w.min)
		}
	}
	// Exactly the five stored messages went through flushes, and none is left waiting.
	if got := histogramSum(mf["parley_flush_batch_messages"]); got != 5 {
		t.Errorf("flushed %v messages, want 5", got)
	}
	if got := sum(mf["parley_message_queue_depth"], nil); got != 0 {
		t.Errorf("queue depth %v after every ack", got)
	}
	for name, f := range mf {
		for _, m := range f.GetMetric() {
			if label(m, "node") != "7" {
				t.Fatalf("%s has node=%q, want 7 on every series", name, label(m, "node"))
			}
		}
	}
	if s.Contract.Checked() == 0 {
		t.Error("the contract checker validated nothing")
	}
}

// With PARLEY_METRICS_ADDR the metrics leave the main port for their own listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_METRICS_ADDR": addr}})
	if res := s.Do(t, "GET", "/metrics", "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("main port /metrics: %d", res.Status)
	}
	var res *http.Response
	var err error
	for range 50 { // Serve opens the listener right after the test server returned
		if res, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(res.Body)
	if err != nil || mf["parley_message_queue_depth"] == nil {
		t.Fatalf("metrics listener: %v, %d families", err, len(mf))
	}
}

// freeAddr is a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func scrape(t *testing.T, s *testserver.Server) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sum adds the values (a histogram's count) of a family's series that carry every wanted label.
func sum(f *dto.MetricFamily, labels map[string]string) float64 {
	total := 0.0
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			if label(m, k) != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			total += m.Untyped.GetValue()
		}
	}
	return total
}

func histogramSum(f *dto.MetricFamily) float64 {
	total := 0.0
	for _, m := range f.GetMetric() {
		total += m.GetHistogram().GetSampleSum()
	}
	return total
}
