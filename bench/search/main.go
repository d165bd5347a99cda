// Command search measures message search on the local OpenSearch (issue #18, BENCHMARKS.md "Message search"):
// it bulk-indexes synthetic messages straight into a fresh index through the production repository
// (repositories/opensearch: the same documents, versions and batches of 500 the indexer writes), one writer like
// the indexer, and times the production queries: one word over a server's 100 channels, and a phrase in one
// channel, at 100,000 and at 1,000,000 messages. It reports the engine's CPU per indexed message (the extra write
// cost of search; sends never wait for it) and deletes its index at the end.
//
// Queries are timed on a settled index (the engine's flush and merges after the bulk load finished, as on a
// server that has run for a while) and again while new messages are written at -write-rate (chat traffic through
// the indexer's path: a bulk request every 100 ms).
//
//	go run ./bench/search [-messages 1000000] [-channels 100] [-queries 1000] [-batch 500] [-write-rate 1000] [-keep | -reuse INDEX]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/repositories/opensearch"
)

func main() {
	total := flag.Int("messages", 1_000_000, "messages to index")
	channels := flag.Int("channels", 100, "channels (one server)")
	queries := flag.Int("queries", 1000, "queries per kind and checkpoint")
	url := flag.String("url", "http://127.0.0.1:59200", "OpenSearch URL")
	pidFile := flag.String("pidfile", ".local/run/opensearch.pid", "the engine's pid file (for its CPU time)")
	reuse := flag.String("reuse", "", "time the queries on this index of an earlier run with -keep (same -messages and -channels), without indexing")
	keep := flag.Bool("keep", false, "keep the index at the end (for -reuse)")
	batchSize := flag.Int("batch", 500, "messages per bulk request (the indexer sends up to 500: fewer when traffic is light)")
	shards := flag.Int("shards", 1, "primary shards of the index (documents routed by channel)")
	writeRate := flag.Int("write-rate", 1000, "messages per second written while the queries are timed a second time (0: skip)")
	flag.Parse()
	if err := run(*url, *pidFile, *reuse, *keep, *total, *channels, *queries, *batchSize, *writeRate, *shards); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// A vocabulary of 20,000 made-up words used with Zipf frequencies, like words in chat.
func vocabulary(r *rand.Rand) []string {
	syl := []string{"ka", "lo", "mi", "ter", "an", "so", "ve", "ri", "pu", "den", "ol", "ma", "ze", "tu", "bri", "ex", "no", "ga", "fi", "um"}
	seen := map[string]bool{}
	var out []string
	for len(out) < 20_000 {
		var b strings.Builder
		for n := 1 + r.IntN(4); n > 0; n-- {
			b.WriteString(syl[r.IntN(len(syl))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func cpuTicks(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func run(url, pidFile, reuse string, keep bool, total, nChannels, nQueries, batchSize, writeRate, shards int) error {
	ctx := context.Background()
	index := fmt.Sprintf("parley-bench-%d", time.Now().Unix())
	if reuse != "" {
		index = reuse
	}
	store, err := opensearch.New(opensearch.Config{URLs: []string{url}, Index: index, Shards: shards})
	if err != nil {
		return err
	}
	if _, err := store.EnsureIndex(ctx); err != nil {
		return err
	}
	if !keep {
		defer func() { _ = store.DeleteIndex(context.Background()) }()
	}
	apply := store.Apply
	if reuse != "" { // the same messages are generated (fixed seeds) for the phrase samples, not written again
		apply = func(context.Context, []model.IndexOp) error { return nil }
	}
	pid := ""
	if b, err := os.ReadFile(pidFile); err == nil {
		pid = strings.TrimSpace(string(b))
	}
	r := rand.New(rand.NewPCG(1, 2))
	vocab := vocabulary(r)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.07, 2, uint64(len(vocab)-1))
	// The concurrent writer's own generators (the query samples stay those of earlier runs).
	r2 := rand.New(rand.NewPCG(5, 6))
	r3 := rand.New(rand.NewPCG(9, 10))
	zipf2 := rand.NewZipf(rand.New(rand.NewPCG(7, 8)), 1.07, 2, uint64(len(vocab)-1))
	chans := make([]int64, nChannels)
	for i := range chans {
		chans[i] = int64(1_000_000 + i)
	}
	samples := map[int64][]string{} // a few messages per channel, for phrase queries
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	fmt.Printf("OpenSearch at %s, index %s (%d shards, routed by channel), %d messages in %d channels, batches of %d, one writer\n", url, index, shards, total, nChannels, batchSize)
	checkpoints := []int{100_000, total}
	if total <= 100_000 {
		checkpoints = []int{total}
	}
	indexed := 0
	for _, cp := range checkpoints {
		cpu0, self0, t0 := cpuTicks(pid), selfCPU(), time.Now()
		batch := make([]model.IndexOp, 0, batchSize)
		for ; indexed < cp; indexed++ {
			ch := chans[indexed%nChannels]
			n := 4 + r.IntN(16)
			words := make([]string, n)
			for i := range words {
				words[i] = vocab[zipf.Uint64()]
			}
			content := strings.Join(words, " ")
			if r.IntN(50) == 0 {
				content += " https://example.com/" + words[0]
			}
			at := start.Add(time.Duration(indexed) * 2 * time.Second)
			m := model.Message{ID: int64(indexed + 1), ChannelID: ch, SenderID: int64(1 + r.IntN(500)), Content: content, CreatedAt: at}
			if len(samples[ch]) < 20 && r.IntN(100) == 0 {
				samples[ch] = append(samples[ch], content)
			}
			batch = append(batch, model.IndexOp{Message: m, Version: at.UnixMicro()})
			if len(batch) == cap(batch) {
				if err := apply(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			if err := apply(ctx, batch); err != nil {
				return err
			}
		}
		if err := store.Refresh(ctx); err != nil {
			return err
		}
		wall := time.Since(t0)
		added := float64(cp)
		if cp != checkpoints[0] {
			added = float64(cp - checkpoints[0])
		}
		fmt.Printf("\n== %d messages indexed (%.0f this step in %.1f s: %.0f msg/s; engine CPU %.1f µs/msg, bench client %.1f µs/msg)\n",
			cp, added, wall.Seconds(), added/wall.Seconds(), (cpuTicks(pid)-cpu0)/added*1e6, (selfCPU()-self0)/added*1e6)
		if size, err := storeSize(url, index); err == nil {
			fmt.Printf("index size on disk: %.1f MiB (%.0f bytes per message)\n", float64(size)/(1<<20), float64(size)/float64(cp))
		}
		// Right after a bulk load the engine is still committing and merging what it took in; timing queries then
		// measures that (run 3 of 2026-12-06 did: phrase p99 48.5 ms, 15-24 ms once settled). Wait it out.
		t1 := time.Now()
		if err := settle(ctx, url, index); err != nil {
			return err
		}
		fmt.Printf("settled in %.1f s (flush done, no merge running)\n", time.Since(t1).Seconds())

		// One word over the server's channels: words of every frequency (rank 10 to 5,000).
		word := func() model.SearchQuery {
			return model.SearchQuery{Channels: chans, Terms: vocab[10+r.IntN(5000)], Limit: 25}
		}
		phrase := func() model.SearchQuery {
			ch := chans[r.IntN(nChannels)]
			for len(samples[ch]) == 0 {
				ch = chans[r.IntN(nChannels)]
			}
			ws := strings.Fields(samples[ch][r.IntN(len(samples[ch]))])
			i := r.IntN(len(ws) - 2)
			return model.SearchQuery{Channels: []int64{ch}, Phrases: []string{strings.Join(ws[i:i+3], " ")}, Limit: 25}
		}
		// Chat traffic during the second round: new messages in the same channels, a bulk request every 100 ms as
		// the indexer sends them (its linger), through the same repository.
		next := int64(10_000_000)
		writer := func(stop <-chan struct{}, done chan<- int) {
			n, per := 0, max(writeRate/10, 1)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					done <- n
					return
				case <-tick.C:
				}
				ops := make([]model.IndexOp, per)
				for i := range ops {
					next++
					words := make([]string, 4+r2.IntN(16))
					for j := range words {
						words[j] = vocab[zipf2.Uint64()]
					}
					at := time.Now()
					ops[i] = model.IndexOp{Message: model.Message{ID: next, ChannelID: chans[r2.IntN(nChannels)], SenderID: 1, Content: strings.Join(words, " "), CreatedAt: at}, Version: at.UnixMicro()}
				}
				if err := store.Apply(ctx, ops); err != nil {
					fmt.Fprintln(os.Stderr, "writer:", err)
				}
				n += per
			}
		}
		// One of the ten commonest words (in most messages): what visiting every match costs most. Its own
		// generator, so the other kinds draw the same queries as runs before it existed.
		common := func() model.SearchQuery {
			return model.SearchQuery{Channels: chans, Terms: vocab[r3.IntN(10)], Limit: 25}
		}
		rounds := []int{0}
		if writeRate > 0 {
			rounds = append(rounds, writeRate)
		}
		for _, rate := range rounds {
			var stop chan struct{}
			done := make(chan int, 1)
			t2 := time.Now()
			if rate > 0 {
				stop = make(chan struct{})
				go writer(stop, done)
				fmt.Printf("-- while writing %d messages/s:\n", rate)
			}
			for _, k := range []struct {
				name string
				q    func() model.SearchQuery
			}{{"one word, 100 channels", word}, {"phrase of 3 words, one channel", phrase}, {"common word, 100 channels", common}} {
				for i := 0; i < 50; i++ { // warm-up
					if _, err := store.Search(ctx, k.q()); err != nil {
						return err
					}
				}
				lat := make([]time.Duration, 0, nQueries)
				took := make([]time.Duration, 0, nQueries)
				hits := 0
				for i := 0; i < nQueries; i++ {
					q := k.q()
					t := time.Now()
					res, err := store.Search(ctx, q)
					lat = append(lat, time.Since(t))
					if err != nil {
						return err
					}
					took = append(took, res.EngineTime)
					hits += res.Total
				}
				slices.Sort(lat)
				slices.Sort(took)
				fmt.Printf("%-32s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (engine's own: p50 %d ms, p99 %d ms; %d queries, %.0f matches on average)\n", k.name,
					ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]), took[len(took)/2].Milliseconds(), took[len(took)*99/100].Milliseconds(),
					nQueries, float64(hits)/float64(nQueries))
			}
			if stop != nil {
				close(stop)
				n := <-done
				fmt.Printf("   (%d messages written in %.1f s: %.0f/s)\n", n, time.Since(t2).Seconds(), float64(n)/time.Since(t2).Seconds())
			}
		}
	}
	return nil
}

// settle flushes the index and waits until no merge is running (at most two minutes).
func settle(ctx context.Context, url, index string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/"+index+"/_flush?wait_if_ongoing=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		resp, err := http.Get(url + "/" + index + "/_stats/merge?filter_path=_all.primaries.merges.current")
		if err != nil {
			return err
		}
		var st struct {
			All struct {
				Primaries struct {
					Merges struct {
						Current int `json:"current"`
					} `json:"merges"`
				} `json:"primaries"`
			} `json:"_all"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if st.All.Primaries.Merges.Current == 0 {
			return nil
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func storeSize(url, index string) (int64, error) {
	resp, err := http.Get(url + "/_cat/indices/" + index + "?h=store.size&bytes=b")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var s string
	_, err = fmt.Fscan(resp.Body, &s)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}
