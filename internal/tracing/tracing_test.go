package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Configured with an endpoint, spans are exported over OTLP/HTTP to <endpoint>/v1/traces.
func TestExportsOTLPOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		if len(b) == 0 {
			t.Error("an empty export")
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tr, err := New(Config{Endpoint: srv.URL, NodeID: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("not enabled with an endpoint")
	}
	_, span := tr.Tracer().Start(context.Background(), "work")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[0] != "POST /v1/traces application/x-protobuf" {
		t.Fatalf("collector saw %q", got)
	}
}

func TestOffByDefaultAndBadEndpoints(t *testing.T) {
	tr, err := New(Config{})
	if err != nil || tr.Enabled() {
		t.Fatalf("no endpoint: %v, enabled %v", err, tr.Enabled())
	}
	tr.DBCall(context.Background(), "postgres", "select", time.Now(), time.Now(), nil) // no-op, no panic
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"127.0.0.1:4318", "ftp://x", "http://"} {
		if _, err := New(Config{Endpoint: bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}

// A database call is a client span under the work in ctx, with the real start and end and its error; without
// traced work around it, nothing is recorded.
func TestDBCallSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := WithExporter(Config{}, sdktrace.WithSyncer(exp))
	tr.DBCall(context.Background(), "mongodb", "find", time.Now(), time.Now(), nil)
	ctx, parent := tr.Tracer().Start(context.Background(), "handler")
	start := time.Now().Add(-3 * time.Millisecond)
	tr.DBCall(ctx, "cassandra", "batch", start, start.Add(2*time.Millisecond), errors.New("timeout"))
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the db call and its parent", len(spans))
	}
	db := spans[0]
	if db.Name != "cassandra batch" || db.Parent.SpanID() != parent.SpanContext().SpanID() || db.EndTime.Sub(db.StartTime) != 2*time.Millisecond ||
		db.Status.Description != "timeout" {
		t.Fatalf("db span %+v", db)
	}
}

// Start makes a child of the recorded span in ctx with that span's provider; outside recorded work it records
// nothing and leaves ctx as it was.
func TestStartUnderTheSpanInContext(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := WithExporter(Config{}, sdktrace.WithSyncer(exp))

	bg := context.Background()
	ctx, span := Start(bg, "community.Servers")
	if ctx != bg || span.IsRecording() {
		t.Fatal("a span was recorded outside traced work")
	}
	span.End()
	offCtx, offParent := Off().Tracer().Start(bg, "handler")
	if _, span := Start(offCtx, "community.Servers"); span.IsRecording() {
		t.Fatal("a span was recorded with tracing off")
	}
	offParent.End()

	ctx, parent := tr.Tracer().Start(bg, "GET /api/servers")
	sctx, child := Start(ctx, "community.Servers")
	tr.DBCall(sctx, "postgres", "select", time.Now(), time.Now(), nil)
	child.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	db, svc := spans[0], spans[1]
	if svc.Name != "community.Servers" || svc.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("service span %s under %s, want under the handler", svc.Name, svc.Parent.SpanID())
	}
	if db.Name != "postgres select" || db.Parent.SpanID() != svc.SpanContext.SpanID() {
		t.Errorf("database span %s not under the service span", db.Name)
	}
}

// What the instrumentation costs a call when tracing is off: a service span and a database call's report.
func BenchmarkOff(b *testing.B) {
	tr := Off()
	ctx, parent := tr.Tracer().Start(context.Background(), "handler")
	defer parent.End()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sctx, span := Start(ctx, "community.Servers")
		tr.DBCall(sctx, "postgres", "select", now, now, nil)
		span.End()
	}
}
