package soak

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSlope(t *testing.T) {
	if s := Slope([]float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}); math.Abs(s-2) > 1e-9 {
		t.Fatalf("slope %v, want 2", s)
	}
	if s := Slope([]float64{1}, []float64{5}); s != 0 {
		t.Fatalf("one point: %v", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := Percentile(ds, 99); p != 99*time.Millisecond {
		t.Fatalf("p99 %v", p)
	}
	if p := Percentile(ds, 50); p != 50*time.Millisecond {
		t.Fatalf("p50 %v", p)
	}
}

// The verdict catches a leak that only starts after the warm-up, ignores warm-up growth, and flags errors, slow
// intervals and silent ones.
func TestVerdict(t *testing.T) {
	lim := Limits{RSSPerHour: 50, GoroutinesPerHour: 200, P99: time.Second, Warmup: 10 * time.Minute}
	samples := func(rss func(h float64) float64, gr func(h float64) float64) []Sample {
		var out []Sample
		for i := range 60 { // 30 minutes, every 30 s
			at := time.Duration(i) * 30 * time.Second
			out = append(out, Sample{At: at, RSSMiB: rss(at.Hours()), Goroutines: int(gr(at.Hours()))})
		}
		return out
	}
	ok := []Interval{{Sent: 10, P99: 100 * time.Millisecond}}
	flat := samples(func(h float64) float64 { return 120 + 3*math.Sin(h*40) }, func(float64) float64 { return 300 })
	if v := Verdict(flat, ok, 0, lim); len(v) != 0 {
		t.Fatalf("flat run judged %v", v)
	}
	// Warm-up growth in the first half only.
	warm := samples(func(h float64) float64 { return 100 + 200*math.Min(h, 0.2) }, func(float64) float64 { return 300 })
	if v := Verdict(warm, ok, 0, lim); len(v) != 0 {
		t.Fatalf("warm-up judged %v", v)
	}
	leaky := samples(func(h float64) float64 { return 120 + 60*h }, func(h float64) float64 { return 300 + 400*h })
	v := strings.Join(Verdict(leaky, ok, 0, lim), "; ")
	if !strings.Contains(v, "RSS grows") || !strings.Contains(v, "goroutines grow") {
		t.Fatalf("leak judged %q", v)
	}
	// A run whose second half is still warm-up: the RSS slope is not judged, goroutines still are.
	short := leaky[:12] // 6 minutes
	v = strings.Join(Verdict(short, ok, 0, lim), "; ")
	if strings.Contains(v, "RSS grows") || !strings.Contains(v, "goroutines grow") {
		t.Fatalf("short leaky run judged %q", v)
	}
	v = strings.Join(Verdict(flat, []Interval{{Sent: 5, P99: 2 * time.Second}, {Sent: 0}}, 3, lim), "; ")
	for _, want := range []string{"3 errors", "p99 2s", "no message acknowledged"} {
		if !strings.Contains(v, want) {
			t.Fatalf("verdict %q lacks %q", v, want)
		}
	}
}
