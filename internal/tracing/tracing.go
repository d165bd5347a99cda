// Package tracing sets up OpenTelemetry tracing: off by default (a no-op tracer, nothing exported, nearly free),
// exporting OTLP over HTTP when an endpoint is configured. The provider is built once in cmd/server/app and handed
// to what starts spans (the REST and socket controllers, the messaging service, the database observers); the
// library's global provider is never set.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's base URL (http://127.0.0.1:4318); empty: tracing is off.
	Endpoint string
	// SampleRatio is the share of new traces recorded (0-1); a request that arrives with a sampled traceparent
	// is always recorded.
	SampleRatio float64
	NodeID      int64
	Version     string
}

// Tracing is the process's tracer provider.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
	tracer   trace.Tracer
}

// Off is tracing that records nothing.
func Off() *Tracing {
	p := noop.NewTracerProvider()
	return &Tracing{provider: p, tracer: p.Tracer("parley")}
}

// New builds the provider: Off when no endpoint is configured, else a batching OTLP/HTTP exporter.
func New(cfg Config) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return Off(), nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.JoinPath("/v1/traces").String())}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return WithExporter(cfg, sdktrace.WithBatcher(exp)), nil
}

// WithExporter builds a recording provider around an exporter option (tests pass sdktrace.WithSyncer of an
// in-memory exporter).
func WithExporter(cfg Config, exporter sdktrace.TracerProviderOption) *Tracing {
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", "parley"),
		attribute.String("service.instance.id", strconv.FormatInt(cfg.NodeID, 10)),
		attribute.String("service.version", cfg.Version),
	)
	sdk := sdktrace.NewTracerProvider(exporter, sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	return &Tracing{provider: sdk, sdk: sdk, tracer: sdk.Tracer("parley")}
}

// Enabled reports whether spans are recorded at all.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// Tracer is the tracer spans are started with.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer("parley")
	}
	return t.tracer
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// dbSystem names the databases as OpenTelemetry's semantic conventions do (the object store, S3, is not one).
var dbSystem = map[string]string{"postgres": "postgresql", "mongodb": "mongodb", "cassandra": "cassandra",
	"redis": "redis", "opensearch": "opensearch"}

// DBCall records a finished database call as a client span under the span in ctx (the repositories' Observer).
// Calls outside any traced work (background writes, sweeps) are not recorded: they would each be a trace of one.
func (t *Tracing) DBCall(ctx context.Context, store, op string, start, end time.Time, err error) {
	if !t.Enabled() || !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("parley.store", store), attribute.String("db.operation.name", op)}
	if sys, ok := dbSystem[store]; ok {
		attrs = append(attrs, attribute.String("db.system.name", sys))
	}
	_, span := t.tracer.Start(ctx, store+" "+op, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	Fail(span, err)
	span.End(trace.WithTimestamp(end))
}

// Fail marks a span failed with err (nothing for nil).
func Fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// notTraced is the span of work outside any trace: its methods do nothing.
var notTraced = trace.SpanFromContext(context.Background())

// Start starts a child span named name (e.g. "community.CreateServer") under the span in ctx, made by the provider
// that made that span, so a service needs no tracer of its own. Outside recorded work (tracing off, the trace not
// sampled, background work) it returns ctx and a span that does nothing, at the cost of one context lookup.
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, notTraced
	}
	return parent.TracerProvider().Tracer("parley").Start(ctx, name)
}
