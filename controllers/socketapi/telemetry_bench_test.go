package socketapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/app"
	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/sioclient"
	"github.com/parleychat/parley/internal/tracing"
)

// BenchmarkSendAckTelemetry measures what metrics and tracing cost the hot path, message:send → ack (stored in
// Cassandra), on the real databases: one server per variant in this process (metrics always on; tracing off,
// sampling 100 % and sampling 10 %, exporting OTLP/HTTP in batches to a local collector that discards), driven
// in interleaved rounds (each round runs every variant once, in a rotating order) so that the shared machine's
// load drifts over all of them alike. Per variant: the process's CPU per message (servers and clients: the
// differences are the server's) and send→ack p50/p99, per round and their median. BENCHMARKS.md has the figures.
//
//	go test -run XXX -bench SendAckTelemetry -benchtime 1x ./controllers/socketapi/ [-telemetry.rounds 5 -telemetry.senders 8 -telemetry.per-sender 250]
func BenchmarkSendAckTelemetry(b *testing.B) {
	var spansIn atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		spansIn.Add(n)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(collector.Close) // after the servers stopped (cleanups run last-registered first): they export at shutdown

	type variant struct {
		name    string
		ratio   float64 // 0: tracing off
		srv     *testserver.Server
		senders []*sioclient.Client
		channel string
		cpu     []float64 // µs per message, per round
		p50     []float64 // ms
		p99     []float64
	}
	variants := []*variant{{name: "tracing-off"}, {name: "tracing-100%", ratio: 1}, {name: "tracing-10%", ratio: 0.1}}
	ctx := context.Background()
	for _, v := range variants {
		tel := app.Telemetry{}
		if v.ratio > 0 {
			tr, err := tracing.New(tracing.Config{Endpoint: collector.URL, SampleRatio: v.ratio, NodeID: 1})
			if err != nil {
				b.Fatal(err)
			}
			tel.Tracing = tr
		}
		v.srv = testserver.Start(b, testserver.Options{Telemetry: tel, NoContract: true,
			Env: map[string]string{"PARLEY_SEND_RATE": "1000000", "PARLEY_SEND_BURST": "1000000", "PARLEY_LOG_LEVEL": "error"}})
		acc := v.srv.Register(b, "bench_"+strconv.Itoa(int(v.ratio*100)))
		res := v.srv.Do(b, "POST", "/api/servers", acc.AccessToken, map[string]string{"name": "Bench"})
		var s struct{ ID string }
		res.JSON(b, &s)
		var chans struct{ Channels []struct{ ID string } }
		v.srv.Do(b, "GET", "/api/servers/"+s.ID+"/channels", acc.AccessToken, nil).JSON(b, &chans)
		v.channel = chans.Channels[0].ID
		for range *benchSenders {
			c, err := sioclient.Connect(ctx, v.srv.URL, acc.AccessToken, sioclient.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			v.senders = append(v.senders, c)
		}
		step(b, v.senders, v.channel, "warm", 20) // connections, caches, the conversation loaded
	}

	for round := range *benchRounds {
		for i := range variants {
			v := variants[(round+i)%len(variants)]
			before := cpuTime()
			lat := step(b, v.senders, v.channel, fmt.Sprintf("r%d", round), *benchPerSender)
			n := float64(len(lat))
			v.cpu = append(v.cpu, float64((cpuTime()-before).Microseconds())/n)
			slices.Sort(lat)
			v.p50 = append(v.p50, ms(lat[len(lat)/2]))
			v.p99 = append(v.p99, ms(lat[len(lat)*99/100]))
		}
	}
	b.Logf("%d rounds of %d senders × %d messages per variant; collector received %d bytes of spans",
		*benchRounds, *benchSenders, *benchPerSender, spansIn.Load())
	for _, v := range variants {
		b.Logf("%-13s CPU µs/msg median %.0f (rounds %v) | ack p50 median %.1f ms (%v) | ack p99 median %.1f ms (%v)",
			v.name, median(v.cpu), rounded(v.cpu), median(v.p50), rounded(v.p50), median(v.p99), rounded(v.p99))
		b.ReportMetric(median(v.cpu), "cpu-µs/msg:"+v.name)
	}
}

var (
	benchRounds    = flag.Int("telemetry.rounds", 5, "interleaved rounds")
	benchSenders   = flag.Int("telemetry.senders", 8, "sockets sending at once, one message at a time each")
	benchPerSender = flag.Int("telemetry.per-sender", 250, "messages each sender sends per round")
)

// step has every sender send n 64-byte messages, each after the previous one's ack, and returns every send→ack time.
func step(b *testing.B, senders []*sioclient.Client, channel, tag string, n int) []time.Duration {
	return sendEach(b, senders, tag, n, func(nonce string) any {
		return map[string]string{"channelId": channel, "content": "a 64-byte message, as in the throughput benchmark of the gateway", "nonce": nonce}
	})
}

// sendEach has every sender send n messages (payload gives each one for its nonce), each after the previous
// one's ack, and returns every send→ack time.
func sendEach(b *testing.B, senders []*sioclient.Client, tag string, n int, payload func(nonce string) any) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			mine := make([]time.Duration, 0, n)
			for j := range n {
				start := time.Now()
				raw, err := c.EmitAck(ctx, "message:send", payload(fmt.Sprintf("%s-%d-%d", tag, i, j)))
				if err != nil {
					b.Error(err)
					return
				}
				var ack struct{ OK bool }
				if json.Unmarshal(raw, &ack) != nil || !ack.OK {
					b.Errorf("ack %s", raw)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return lat
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func rounded(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return out
}
