//go:build soak

package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
)

// env reads a setting with a default.
func env[T any](t *testing.T, key string, def T, parse func(string) (T, error)) T {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, v, err)
	}
	return x
}

func atof(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

type settings struct {
	duration, interval, sample time.Duration
	users, group               int
	rate, churn                float64
	limits                     Limits
	out                        string
}

func load(t *testing.T) settings {
	s := settings{
		duration: env(t, "SOAK_DURATION", 30*time.Minute, time.ParseDuration),
		interval: env(t, "SOAK_INTERVAL", time.Minute, time.ParseDuration),
		sample:   env(t, "SOAK_SAMPLE", 10*time.Second, time.ParseDuration),
		users:    env(t, "SOAK_USERS", 60, strconv.Atoi),
		group:    10,                               // members per community (three channels each)
		rate:     env(t, "SOAK_RATE", 20.0, atof),  // messages per second, all users together
		churn:    env(t, "SOAK_CHURN", 0.25, atof), // share of users who disconnect and come back all the time
		limits: Limits{
			RSSPerHour:        env(t, "SOAK_MAX_RSS_SLOPE", 60.0, atof),
			GoroutinesPerHour: env(t, "SOAK_MAX_GOROUTINE_SLOPE", 300.0, atof),
			P99:               env(t, "SOAK_MAX_P99", 2*time.Second, time.ParseDuration),
			Warmup:            env(t, "SOAK_WARMUP", 10*time.Minute, time.ParseDuration),
		},
		out: os.Getenv("SOAK_OUT"),
	}
	if s.users < s.group {
		s.group = s.users
	}
	return s
}

var panicOrError = regexp.MustCompile(`(?m)^.*(panic|level=ERROR|DATA RACE).*$`)

// TestSoak: see the package comment and scripts/soak.sh.
func TestSoak(t *testing.T) {
	cfg := load(t)
	_, cass := testenv.SharedCassandra(t)
	dir := t.TempDir()
	srv := startServer(t, dir, map[string]string{
		"PARLEY_POSTGRES_URL":       testenv.PostgresURL(t),
		"PARLEY_MONGO_URI":          testenv.MongoURI(),
		"PARLEY_MONGO_DATABASE":     testenv.Mongo(t).Name(),
		"PARLEY_CASSANDRA_HOSTS":    strings.Join(cass.Hosts, ","),
		"PARLEY_CASSANDRA_KEYSPACE": cass.Keyspace,
		"PARLEY_BCRYPT_COST":        "4",
		"PARLEY_REGISTER_BURST":     "100000",
		"PARLEY_ACCESS_TOKEN_TTL":   "6h", // the tokens outlive the run: reconnects use them
		"PARLEY_JWT_SECRET":         "soak-secret-soak-secret-soak-secret-0123",
		"PARLEY_STATIC_DIR":         dir,
		"PARLEY_DATA_DIR":           dir,
		"PARLEY_LOG_LEVEL":          "warn",
	})
	accs := setup(t, srv.url, cfg)
	t.Logf("soak: %d users in %d communities, %v at %.0f msg/s, %.0f%% churning; server pid %d",
		len(accs), (len(accs)+cfg.group-1)/cfg.group, cfg.duration, cfg.rate, cfg.churn*100, srv.cmd.Process.Pid)

	m := &metrics{byKind: map[string]int{}}
	lg := &ledger{acked: map[string][]ackedMsg{}, received: map[string]map[string]bool{}, since: map[string]time.Time{}, broken: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients []*client
	for i, a := range accs {
		cl := &client{acc: a, m: m, lg: lg, url: srv.url, newest: map[string]string{}, stable: float64(i%100) >= cfg.churn*100}
		if err := cl.connect(ctx); err != nil {
			t.Fatalf("%s connects: %v", a.Name, err)
		}
		clients = append(clients, cl)
	}
	m.start = time.Now()
	var wg sync.WaitGroup
	perUser := time.Duration(float64(time.Second) * float64(len(clients)) / cfg.rate)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			nextChurn := time.Now().Add(time.Duration(10+r.IntN(30)) * time.Second)
			next := time.Now()
			for ctx.Err() == nil {
				// Exponential gaps on a schedule (Poisson arrivals at the configured rate): a slow ack delays
				// this user's next send but not the ones after it. A churning user does not send while away.
				next = next.Add(time.Duration(r.ExpFloat64() * float64(perUser)))
				if now := time.Now(); next.Before(now.Add(-5 * time.Second)) {
					next = now
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				cl.send(ctx, r)
				if r.IntN(3) == 0 {
					cl.extra(ctx, r)
				}
				if !cl.stable && time.Now().After(nextChurn) {
					cl.churn(ctx, r, time.Duration(2+r.IntN(8))*time.Second)
					nextChurn = time.Now().Add(time.Duration(10+r.IntN(30)) * time.Second)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // history reads: two a second
		defer wg.Done()
		r := rand.New(rand.NewPCG(99, 7))
		for ctx.Err() == nil {
			a := accs[r.IntN(len(accs))]
			readHistory(srv.url, a, a.channels[r.IntN(len(a.channels))], m)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()

	var samples []Sample
	sampleT, intervalT := time.NewTicker(cfg.sample), time.NewTicker(cfg.interval)
	end := time.After(cfg.duration)
	lastInterval := time.Duration(0)
	cpu0 := srv.cpuSeconds()
	take := func() {
		rss, err1 := srv.rssMiB()
		gr, err2 := srv.goroutines()
		if err1 != nil || err2 != nil {
			m.fail("sample", fmt.Sprint(err1, err2))
			return
		}
		samples = append(samples, Sample{At: time.Since(m.start), RSSMiB: rss, Goroutines: gr})
	}
	take()
loop:
	for {
		select {
		case <-sampleT.C:
			take()
		case <-intervalT.C:
			m.roll(lastInterval)
			iv := m.intervals[len(m.intervals)-1]
			s := samples[len(samples)-1]
			t.Logf("%6v: %d sent, %d delivered, p50 %v p99 %v, %d errors; RSS %.1f MiB, %d goroutines",
				lastInterval, iv.Sent, iv.Deliveries, iv.P50.Round(time.Millisecond), iv.P99.Round(time.Millisecond), iv.Errors, s.RSSMiB, s.Goroutines)
			lastInterval = time.Since(m.start).Round(time.Second)
		case <-end:
			break loop
		case <-srv.exited:
			t.Fatalf("the server died; its log:\n%s", tail(srv.logPath))
		}
	}
	take()
	cancel()
	wg.Wait()
	if time.Since(m.start)-lastInterval > cfg.interval/2 {
		m.roll(lastInterval) // the last, partial interval
	}
	elapsed := time.Since(m.start)
	cpu := srv.cpuSeconds() - cpu0
	time.Sleep(3 * time.Second) // deliveries in flight
	lost := lg.check(clients, time.Now().Add(-3*time.Second))
	if lost > 0 {
		m.fail("lost deliveries", fmt.Sprintf("%d acknowledged messages did not reach a member that stayed connected", lost))
	}
	logText, _ := os.ReadFile(srv.logPath)
	if bad := panicOrError.FindAllString(string(logText), -1); len(bad) > 0 {
		m.fail("server log", fmt.Sprintf("%d error or panic lines, the first: %s", len(bad), bad[0]))
	}
	if res, err := http.Get(srv.url + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		m.fail("readyz", fmt.Sprint(err, res))
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	total := 0
	for _, n := range m.byKind {
		total += n
	}
	rep := report(cfg, samples, m, elapsed, cpu, total)
	t.Log("\n" + rep)
	if cfg.out != "" {
		_ = os.MkdirAll(cfg.out, 0o755)
		_ = os.WriteFile(filepath.Join(cfg.out, "report.md"), []byte(rep), 0o644)
		_ = os.WriteFile(filepath.Join(cfg.out, "samples.csv"), []byte(samplesCSV(samples)), 0o644)
		_ = os.WriteFile(filepath.Join(cfg.out, "server.log"), logText, 0o644)
	}
	if v := Verdict(samples, m.intervals, total, cfg.limits); len(v) > 0 {
		t.Fatalf("soak failed: %s", strings.Join(v, "; "))
	}
}

// check counts acknowledged messages that a client which stayed connected did not receive. Only messages
// acknowledged after the client connected and before cutoff count.
func (lg *ledger) check(clients []*client, cutoff time.Time) int {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	lost := 0
	for _, cl := range clients {
		since, ok := lg.since[cl.acc.ID]
		if !cl.stable || lg.broken[cl.acc.ID] || !ok {
			continue
		}
		for _, ch := range cl.acc.channels {
			for _, a := range lg.acked[ch] {
				if a.at.After(since) && a.at.Before(cutoff) && !lg.received[cl.acc.ID][a.id] {
					lost++
				}
			}
		}
	}
	return lost
}

// setup registers the users and puts them in communities of cfg.group members with three channels each.
func setup(t *testing.T, base string, cfg settings) []account {
	var accs []account
	for i := range cfg.users {
		name := fmt.Sprintf("soak%03d", i)
		var res struct {
			User        struct{ ID string }
			AccessToken string
		}
		if _, err := do(base, "POST", "/api/auth/register", "", map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"}, &res); err != nil {
			t.Fatal(err)
		}
		accs = append(accs, account{ID: res.User.ID, Name: name, Token: res.AccessToken})
	}
	for g := 0; g < len(accs); g += cfg.group {
		owner := accs[g]
		var srv struct{ ID string }
		if _, err := do(base, "POST", "/api/servers", owner.Token, map[string]string{"name": "soak " + owner.Name}, &srv); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"random", "offtopic"} {
			if _, err := do(base, "POST", "/api/servers/"+srv.ID+"/channels", owner.Token, map[string]string{"name": name}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var inv struct{ Code string }
		if _, err := do(base, "POST", "/api/servers/"+srv.ID+"/invites", owner.Token, nil, &inv); err != nil {
			t.Fatal(err)
		}
		for i := g + 1; i < min(g+cfg.group, len(accs)); i++ {
			if _, err := do(base, "POST", "/api/invites/"+inv.Code+"/join", accs[i].Token, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		var chans struct{ Channels []struct{ ID string } }
		if _, err := do(base, "GET", "/api/servers/"+srv.ID+"/channels", owner.Token, nil, &chans); err != nil {
			t.Fatal(err)
		}
		for i := g; i < min(g+cfg.group, len(accs)); i++ {
			for _, c := range chans.Channels {
				accs[i].channels = append(accs[i].channels, c.ID)
			}
		}
	}
	return accs
}

func report(cfg settings, samples []Sample, m *metrics, elapsed time.Duration, cpu float64, errors int) string {
	var b strings.Builder
	rss, gr := Trends(samples)
	sent, dlv := 0, 0
	for _, iv := range m.intervals {
		sent += iv.Sent
		dlv += iv.Deliveries
	}
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## Soak run %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s, %d CPUs (%s), Go %s. Duration %v; %d users (communities of %d, 3 channels each), %.0f msg/s offered, %.0f%% of users churning (disconnect 2-10 s every 10-40 s, then messages:sync), receipts/delivered/reactions/presence on a third of sends, typing before a third, two REST history reads a second.\n\n",
		host, runtime.NumCPU(), loadAvg(), runtime.Version(), elapsed.Round(time.Second), cfg.users, cfg.group, cfg.rate, cfg.churn*100)
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| messages acknowledged / delivered to other members | %d / %d |\n", sent, dlv)
	fmt.Fprintf(&b, "| reconnects with catch-up / messages recovered by messages:sync | %d / %d |\n", m.reconnect, m.syncMsgs)
	fmt.Fprintf(&b, "| history reads (2 pages) p50 / p99 | %v / %v (%d reads) |\n", Percentile(m.history, 50).Round(time.Millisecond), Percentile(m.history, 99).Round(time.Millisecond), len(m.history))
	fmt.Fprintf(&b, "| server CPU | %.0f s (%.0f%% of one core) |\n", cpu, 100*cpu/elapsed.Seconds())
	if len(samples) > 0 {
		first, last := samples[0], samples[len(samples)-1]
		judged := fmt.Sprintf("limit %.0f", cfg.limits.RSSPerHour)
		if !RSSJudged(samples, cfg.limits) {
			judged = fmt.Sprintf("not judged: the second half starts within the %v warm-up", cfg.limits.Warmup)
		}
		fmt.Fprintf(&b, "| RSS first / last / slope (2nd half) | %.1f / %.1f MiB / **%+.1f MiB/hour** (%s) |\n", first.RSSMiB, last.RSSMiB, rss, judged)
		fmt.Fprintf(&b, "| goroutines first / last / slope (2nd half) | %d / %d / **%+.0f /hour** (limit %.0f) |\n", first.Goroutines, last.Goroutines, gr, cfg.limits.GoroutinesPerHour)
	}
	fmt.Fprintf(&b, "| errors | **%d** %v |\n\n", errors, m.byKind)
	fmt.Fprintf(&b, "| interval from | sent | delivered | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, iv := range m.intervals {
		fmt.Fprintf(&b, "| %v | %d | %d | %.1f | %.1f | %d |\n", iv.Start, iv.Sent, iv.Deliveries,
			float64(iv.P50.Microseconds())/1000, float64(iv.P99.Microseconds())/1000, iv.Errors)
	}
	for _, e := range m.examples {
		fmt.Fprintf(&b, "\n- %s", e)
	}
	return b.String() + "\n"
}

func samplesCSV(samples []Sample) string {
	var b strings.Builder
	b.WriteString("seconds,rss_mib,goroutines\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.0f,%.1f,%d\n", s.At.Seconds(), s.RSSMiB, s.Goroutines)
	}
	return b.String()
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load unknown"
	}
	return "load average " + strings.Join(f[:3], " ") + " at the end"
}
