// Package soak is `make soak` (issue #22): mixed traffic against the real server binary on the local databases
// for SOAK_DURATION, sampling the server's RSS and goroutines, with p99 send→deliver latency per interval. It
// fails on errors, on RSS or goroutine counts that grow (least-squares slope over the second half of the run), and
// on an interval whose p99 passes a limit. The run is soak_test.go (build tag soak); this file is the arithmetic,
// tested without the tag in `make test`.
package soak

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Sample is one reading of the server.
type Sample struct {
	At         time.Duration // since the traffic started
	RSSMiB     float64
	Goroutines int
}

// Interval is one period's traffic figures.
type Interval struct {
	Start      time.Duration
	Sent       int // acknowledged sends
	Deliveries int // message:new received by other members
	P50, P99   time.Duration
	Errors     int
}

// Slope is the least-squares slope of ys over xs (per unit of x); 0 with fewer than two distinct xs.
func Slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// Trends are the slopes per hour over the second half of the samples (the first half is warm-up: caches,
// pools, windows filling).
func Trends(samples []Sample) (rssPerHour, goroutinesPerHour float64) {
	half := samples[len(samples)/2:]
	xs, rss, gr := make([]float64, len(half)), make([]float64, len(half)), make([]float64, len(half))
	for i, s := range half {
		xs[i], rss[i], gr[i] = s.At.Hours(), s.RSSMiB, float64(s.Goroutines)
	}
	return Slope(xs, rss), Slope(xs, gr)
}

// Percentile of sorted-or-not durations (nearest rank); 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Limits are what a run must stay within.
type Limits struct {
	RSSPerHour        float64       // MiB/hour
	GoroutinesPerHour float64       // goroutines/hour
	P99               time.Duration // per interval
	// Warmup is how long memory legitimately grows: caches bounded by time fill first (the retry horizon keeps
	// 10 minutes of nonces per channel). The RSS slope is judged only when the second half starts after it.
	Warmup time.Duration
}

// RSSJudged tells whether the run is long enough for its RSS slope to mean something.
func RSSJudged(samples []Sample, lim Limits) bool {
	return len(samples) > 0 && samples[len(samples)/2].At >= lim.Warmup
}

// Verdict lists what a run broke (none: it passed).
func Verdict(samples []Sample, intervals []Interval, errors int, lim Limits) []string {
	var out []string
	if errors > 0 {
		out = append(out, fmt.Sprintf("%d errors", errors))
	}
	if len(samples) < 4 {
		return append(out, fmt.Sprintf("only %d samples: too short to judge", len(samples)))
	}
	rss, gr := Trends(samples)
	if rss > lim.RSSPerHour && RSSJudged(samples, lim) {
		out = append(out, fmt.Sprintf("RSS grows %.1f MiB/hour (limit %.1f)", rss, lim.RSSPerHour))
	}
	if gr > lim.GoroutinesPerHour {
		out = append(out, fmt.Sprintf("goroutines grow %.0f/hour (limit %.0f)", gr, lim.GoroutinesPerHour))
	}
	for _, iv := range intervals {
		if iv.P99 > lim.P99 {
			out = append(out, fmt.Sprintf("p99 %v in the interval from %v (limit %v)", iv.P99.Round(time.Millisecond), iv.Start, lim.P99))
		}
		if iv.Sent == 0 {
			out = append(out, fmt.Sprintf("no message acknowledged in the interval from %v", iv.Start))
		}
	}
	return out
}
