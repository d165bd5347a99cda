package reqid

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestAcceptKeepsSafeIDsAndReplacesOthers(t *testing.T) {
	for _, id := range []string{"abc", "trace-1.2:3/4_5", strings.Repeat("a", MaxLen)} {
		if got := Accept(id); got != id {
			t.Errorf("Accept(%q) = %q, want it kept", id, got)
		}
	}
	for _, id := range []string{"", "a b", "x\ny", `"quoted"`, "<script>", "é", strings.Repeat("a", MaxLen+1)} {
		got := Accept(id)
		if got == id || !Valid(got) || len(got) != 32 {
			t.Errorf("Accept(%q) = %q, want a new 32-character id", id, got)
		}
	}
	if a, b := New(), New(); a == b {
		t.Error("two generated ids are equal")
	}
}

func TestLogHandlerAddsTheID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "x")
	log.InfoContext(With(context.Background(), "rid-1"), "with")
	log.Info("without")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=rid-1") || !strings.Contains(lines[0], "component=x") ||
		strings.Contains(lines[1], "request_id") {
		t.Fatalf("log:\n%s", buf.String())
	}
	if h := LogHandler(LogHandler(slog.NewTextHandler(&buf, nil))); h.(logHandler).Handler == nil {
		t.Fatal("wrapping twice")
	}
	if From(context.Background()) != "" {
		t.Fatal("an id from nowhere")
	}
}

func TestLogHandlerAddsTheTraceID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil)))
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sampled), "traced")
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sampled.WithTraceFlags(0)), "not sampled")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], "trace_id=4bf92f3577b34da6a3ce929d0e0e4736") || strings.Contains(lines[1], "trace_id") {
		t.Fatalf("log:\n%s", buf.String())
	}
}
