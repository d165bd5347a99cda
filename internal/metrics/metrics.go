// Package metrics holds the server's Prometheus metrics: one registry per process (never the client library's
// global one), built by cmd/server/app and handed to what records. Every series carries the node id as the label
// "node", so the series of several nodes scraped into one Prometheus stay apart. The recording methods match the
// small interfaces the services and controllers declare; a nil *Metrics records nothing, so tests and tools that
// build parts of the server without metrics need no stub.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is every series the server exports.
type Metrics struct {
	reg *prometheus.Registry
	// wrapped adds the node label to everything registered through it.
	wrapped prometheus.Registerer

	handshakes  *prometheus.CounterVec
	events      *prometheus.CounterVec
	ackLatency  prometheus.Histogram
	refused     *prometheus.CounterVec
	flushSize   prometheus.Histogram
	flushTime   prometheus.Histogram
	flushErrors prometheus.Counter
	dbCalls     *prometheus.HistogramVec
	dbErrors    *prometheus.CounterVec
	sweeps      *prometheus.CounterVec
	httpReqs    *prometheus.CounterVec
	httpTime    *prometheus.HistogramVec
}

// Buckets for latencies from sub-millisecond database calls to multi-second stalls (an outage, a slow disk).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the chat server's registry: Base and the socket, messaging and presence series.
func New(nodeID int64) *Metrics {
	m := NewBase(nodeID)
	m.handshakes = m.counterVec("parley_socket_handshakes_total",
		"Socket.IO handshakes (CONNECT to the main namespace) by result: ok, or the refusal reason.", "result")
	m.events = m.counterVec("parley_socket_events_total",
		"Socket.IO events received, by event name and outcome (ok, or the error code answered).", "event", "outcome")
	m.ackLatency = m.histogram("parley_message_ack_seconds",
		"Time from a message:send arriving to its ack (stored in Cassandra, or the error).", latencyBuckets)
	m.refused = m.counterVec("parley_messages_refused_total",
		"message:send refused before being stored, by code (unavailable: queue full or shutting down; rate_limited).", "code")
	m.flushSize = m.histogram("parley_flush_batch_messages",
		"Messages written by one flush of a channel's queue.", []float64{1, 2, 4, 8, 16, 32, 64, 128, 256})
	m.flushTime = m.histogram("parley_flush_seconds",
		"Duration of one flush (Cassandra writes with their retries).", latencyBuckets)
	m.flushErrors = m.counter("parley_flush_failures_total",
		"Flushes that ended without storing their messages (shutdown gave up, or the channel moved to another node).")
	m.sweeps = m.counterVec("parley_presence_sweeps_total",
		"Presence sweeps of dead nodes' entries, by result (ok, error).", "result")
	return m
}

// NewBase builds the registry of a process that serves REST and calls stores (the key service): the Go runtime
// and process collectors, database calls and REST requests. Only DBCall, Request, Gauge and Handler may be used
// on it.
func NewBase(nodeID int64) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, wrapped: prometheus.WrapRegistererWith(prometheus.Labels{"node": strconv.FormatInt(nodeID, 10)}, reg)}
	m.wrapped.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.dbCalls = m.histogramVec("parley_db_call_seconds",
		"Store calls by store (postgres, mongodb, cassandra, redis, opensearch, s3) and operation.", latencyBuckets, "store", "op")
	m.dbErrors = m.counterVec("parley_db_errors_total",
		"Store calls that failed, by store and operation.", "store", "op")
	m.httpReqs = m.counterVec("parley_http_requests_total",
		"REST requests by method, route pattern and status.", "method", "route", "status")
	m.httpTime = m.histogramVec("parley_http_request_seconds",
		"REST request latency by method and route pattern.", latencyBuckets, "method", "route")
	return m
}

func (m *Metrics) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	m.wrapped.MustRegister(c)
	return c
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.wrapped.MustRegister(c)
	return c
}

func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	m.wrapped.MustRegister(h)
	return h
}

func (m *Metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.wrapped.MustRegister(h)
	return h
}

// Gauge exports a value read at scrape time (queue depth, open sockets): nothing to keep in step.
func (m *Metrics) Gauge(name, help string, read func() float64) {
	if m == nil {
		return
	}
	m.wrapped.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// GaugeByLabel exports values read at scrape time under one label (open sockets by transport). Every value of
// want is exported, 0 when read does not name it, so a series does not vanish when it drops to zero.
func (m *Metrics) GaugeByLabel(name, help, label string, want []string, read func() map[string]int) {
	if m == nil {
		return
	}
	m.wrapped.MustRegister(&labelGauge{desc: prometheus.NewDesc(name, help, []string{label}, nil), want: want, read: read})
}

type labelGauge struct {
	desc *prometheus.Desc
	want []string
	read func() map[string]int
}

func (g *labelGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *labelGauge) Collect(ch chan<- prometheus.Metric) {
	got := g.read()
	for _, v := range g.want {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(got[v]), v)
	}
}

// Handler serves the registry in the Prometheus text format (OpenMetrics when asked for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is the underlying registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handshake records a socket handshake's result ("ok" or the refusal code).
func (m *Metrics) Handshake(result string) {
	if m != nil {
		m.handshakes.WithLabelValues(result).Inc()
	}
}

// Event records a socket event's outcome ("ok" or the error code it was answered with).
func (m *Metrics) Event(name, outcome string) {
	if m != nil {
		m.events.WithLabelValues(name, outcome).Inc()
	}
}

// SendAcked records the time from a message:send to its ack.
func (m *Metrics) SendAcked(d time.Duration) {
	if m != nil {
		m.ackLatency.Observe(d.Seconds())
	}
}

// SendRefused records a message:send refused with a back-pressure or rate-limit code.
func (m *Metrics) SendRefused(code string) {
	if m != nil {
		m.refused.WithLabelValues(code).Inc()
	}
}

// Flushed records one flush: how many messages it wrote, how long it took, and whether it stored them.
func (m *Metrics) Flushed(messages int, d time.Duration, stored bool) {
	if m == nil {
		return
	}
	m.flushSize.Observe(float64(messages))
	m.flushTime.Observe(d.Seconds())
	if !stored {
		m.flushErrors.Inc()
	}
}

// DBCall records one database call. op is a short verb (select, insert, find, update, batch …), never a
// statement: statements would make a series per query text.
func (m *Metrics) DBCall(_ context.Context, store, op string, start, end time.Time, err error) {
	if m == nil {
		return
	}
	op = strings.ToLower(op)
	m.dbCalls.WithLabelValues(store, op).Observe(end.Sub(start).Seconds())
	if err != nil {
		m.dbErrors.WithLabelValues(store, op).Inc()
	}
}

// Swept records a presence sweep.
func (m *Metrics) Swept(err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.sweeps.WithLabelValues(result).Inc()
}

// Request records a REST request by its route pattern (never the raw path: ids would make a series each).
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpReqs.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpTime.WithLabelValues(method, route).Observe(d.Seconds())
}
