package outage

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
)

// The figures behind "MongoDB down: no unbounded memory growth" (#22): users keep sending, reading, reacting and
// changing presence (everything MongoDB would store) while the private FerretDB is stopped for
// PARLEY_OUTAGE_SECONDS; the server's heap is sampled each second. What waits for MongoDB is one entry per
// user × channel (read positions), per message × user × emoji (reactions) and per channel (metadata), so the heap
// must level off, not climb with the number of events. Run by `make chaos` (PARLEY_OUTAGE_LOAD msg/s).
func TestMongoOutageMemoryUnderLoad(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("PARLEY_OUTAGE_LOAD"))
	if rate <= 0 {
		t.Skip("set PARLEY_OUTAGE_LOAD (msg/s) to run; make chaos does")
	}
	mongoStack(t, "ferretdb_start")
	t.Cleanup(func() { mongoStack(t, "ferretdb_stop") })
	mdb := testenv.UniqueName("outagemem")
	s := testserver.Start(t, testserver.Options{MongoDB: mdb, Env: map[string]string{
		"PARLEY_MONGO_URI": "mongodb://127.0.0.1:" + privateMongoPort + "/", "PARLEY_STATE_WRITE_INTERVAL": "1s",
		"PARLEY_SEND_RATE": "1000", "PARLEY_SEND_BURST": "1000", "PARLEY_REGISTER_BURST": "1000",
		"PARLEY_API_RATE": "100000", "PARLEY_API_BURST": "100000"}})
	const users = 50
	_, senders := loadUsers(t, s, users, 5)

	// Load: each user sends its share of `rate`, and once a second reads up to its newest message, toggles a
	// reaction on one message and (every 5 s) flips its presence between online and idle. (Reacting to a new message
	// each second would measure FerretDB instead: it scans its reactions table for every uncached message.)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * time.Duration(users) / time.Duration(rate))
			defer tick.Stop()
			second := time.NewTicker(time.Second)
			defer second.Stop()
			first := "" // the message this user keeps toggling a reaction on
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					l.mu.Lock()
					full := len(l.pending) >= 200
					l.mu.Unlock()
					if !full {
						l.send(t, fmt.Sprintf("m%d-%d", l.user, i))
					}
				case <-second.C:
					l.mu.Lock()
					last := l.lastID
					if first == "" {
						first = last
					}
					l.mu.Unlock()
					if last == "" {
						continue
					}
					_ = l.sock.Send(fmt.Sprintf(`42["receipt:read",{"channelId":%q,"messageId":%q}]`, l.channel, last))
					ev := "reaction:add"
					if i%2 == 1 {
						ev = "reaction:remove"
					}
					_ = l.sock.Send(fmt.Sprintf(`42[%q,{"channelId":%q,"messageId":%q,"emoji":"👍"}]`, ev, l.channel, first))
					if i%5 == 0 {
						status := []string{"online", "idle"}[i/5%2]
						_ = l.sock.Send(fmt.Sprintf(`42["presence:set",{"status":%q}]`, status))
					}
				}
			}
		}()
	}

	type sample struct {
		at   time.Duration
		heap float64 // MiB in use
	}
	var mu sync.Mutex
	var samples []sample
	t0 := time.Now()
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			runtime.GC() // live heap, not garbage waiting for the next cycle
			runtime.ReadMemStats(&ms)
			mu.Lock()
			samples = append(samples, sample{time.Since(t0), float64(ms.HeapInuse) / (1 << 20)})
			mu.Unlock()
		}
	}()
	between := func(from, to time.Duration) []float64 {
		mu.Lock()
		defer mu.Unlock()
		var out []float64
		for _, s := range samples {
			if s.at >= from && s.at < to {
				out = append(out, s.heap)
			}
		}
		return out
	}

	warm := 20 * time.Second
	time.Sleep(warm)
	downAt := time.Since(t0)
	mongoStack(t, "ferretdb_stop")
	time.Sleep(outageLength())
	upAt := time.Since(t0)
	mongoStack(t, "ferretdb_start")
	// Back when /readyz says so (the server's own probe of MongoDB), under the same load; then 10 s more.
	recovered := time.Duration(-1)
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if res := s.Do(t, "GET", "/readyz", "", nil); res.Status == http.StatusOK {
			recovered = time.Since(t0) - upAt
			break
		}
	}
	recoveredAt := time.Since(t0)
	time.Sleep(10 * time.Second)
	endAt := time.Since(t0)
	close(stop)
	wg.Wait()
	<-sampling

	before, during, after := between(downAt-10*time.Second, downAt), between(downAt, upAt), between(recoveredAt, endAt)
	if len(before) == 0 || len(during) < 4 || len(after) == 0 {
		t.Fatalf("too few samples: %d/%d/%d", len(before), len(during), len(after))
	}
	median := func(xs []float64) float64 { c := slices.Clone(xs); slices.Sort(c); return c[len(c)/2] }
	// The slope over the second half of the outage: the first half fills the bounded maps, then it must be flat.
	half := during[len(during)/2:]
	slope := (median(half[len(half)/2:]) - median(half[:len(half)/2])) / (float64(len(half)) / 2 / 60) // MiB per minute
	peak := slices.Max(during)
	acked, codes := 0, map[string]int{}
	for _, l := range senders {
		l.mu.Lock()
		acked += len(l.acked)
		for c, n := range l.codes {
			codes[c] += n
		}
		l.mu.Unlock()
	}
	t.Logf("FIGURES: %d users, %d msg/s plus a receipt and a reaction per user per second and presence every 5 s; "+
		"MongoDB down %v; heap in use (MiB, after GC): before %.1f, peak during %.1f (+%.1f), second half of the outage %.2f MiB/min, "+
		"ready again %v after FerretDB was started, heap 10 s later %.1f; %d messages acknowledged; refusals %v",
		users, rate, (upAt - downAt).Round(time.Second), median(before), peak, peak-median(before), slope, recovered.Round(time.Second), median(after), acked, codes)
	if peak-median(before) > 64 {
		t.Errorf("the heap grew by %.1f MiB while MongoDB was down", peak-median(before))
	}
	if slope > 4 {
		t.Errorf("the heap still grew by %.2f MiB/min late in the outage: something queues per event", slope)
	}
	if recovered < 0 {
		t.Errorf("/readyz still not ready 3 minutes after MongoDB returned")
	}
}
