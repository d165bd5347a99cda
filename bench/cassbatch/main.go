// Command cassbatch measures what Cassandra spends per stored message when the server writes each channel's
// flush as its own request (today: one single-partition batch per channel flush) against one shared writer that
// sends every channel's rows of the last few milliseconds as one multi-partition unlogged batch. It drives a
// Cassandra node at a fixed rate of 64-byte messages spread over many channels and reads the node's CPU time
// from /proc (issue #13: Cassandra CPU per message). Run it against a node nothing else uses.
//
//	go run ./bench/cassbatch -hosts 127.0.0.1:29242 -pid $(cat .local/probe-cassandra/run/cassandra.pid)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/repositories/cassandra"
)

const insertCQL = "INSERT INTO messages (channel_id, bucket, message_id, sender_id, content, nonce, deleted) VALUES (?, ?, ?, ?, ?, ?, false)"

func main() {
	hosts := flag.String("hosts", "127.0.0.1:29242", "CQL host:port")
	pid := flag.Int("pid", 0, "the Cassandra JVM's pid (its CPU time is read from /proc)")
	rate := flag.Int("rate", 1000, "messages per second")
	channels := flag.Int("channels", 100, "channels the messages are spread over")
	window := flag.Duration("window", 5*time.Millisecond, "the shared writer's gathering window")
	dur := flag.Duration("duration", 20*time.Second, "length of one step")
	rounds := flag.Int("rounds", 2, "A/B pairs (interleaved)")
	flag.Parse()
	ctx := context.Background()
	s, err := cassandra.Connect(ctx, cassandra.Config{Hosts: strings.Split(*hosts, ","), Keyspace: "cassbatch",
		Replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := cassandra.Migrate(ctx, s); err != nil {
		log.Fatal(err)
	}
	ids, _ := snowflake.New(1)
	chans := make([]int64, *channels)
	for i := range chans {
		chans[i] = ids.Next()
	}
	content := strings.Repeat("x", 64)
	modes := []struct {
		name string
		run  func(time.Duration) stats
	}{
		{"per-channel request", func(d time.Duration) stats { return perChannel(s, ids, chans, content, *rate, d) }},
		{"shared writer, " + window.String(), func(d time.Duration) stats { return shared(s, ids, chans, content, *rate, *window, d) }},
	}
	modes[0].run(5 * time.Second) // warm the JIT and the connection
	modes[1].run(5 * time.Second)
	fmt.Printf("rate %d msg/s over %d channels, %v per step, Cassandra pid %d\n", *rate, *channels, *dur, *pid)
	for r := 0; r < *rounds; r++ {
		for _, m := range modes {
			before := cpu(*pid)
			st := m.run(*dur)
			used := cpu(*pid) - before
			fmt.Printf("%-28s requests %6d  stored %6d  errors %d  Cassandra CPU %6.2f s (%4.0f µs/msg)  write p50 %5.1f p99 %6.1f ms\n",
				m.name, st.requests, st.stored, st.errors, used.Seconds(), float64(used.Microseconds())/float64(max(st.stored, 1)),
				st.pct(0.5), st.pct(0.99))
		}
	}
}

type stats struct {
	requests, stored, errors int
	lat                      []time.Duration
}

func (s stats) pct(p float64) float64 {
	if len(s.lat) == 0 {
		return 0
	}
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	return float64(s.lat[int(p*float64(len(s.lat)-1))].Microseconds()) / 1000
}

type row struct {
	ch, id int64
}

// ticks calls emit once per message at the rate, with the channel of each message (round robin).
func ticks(ids *snowflake.Generator, chans []int64, rate int, d time.Duration, emit func(row)) {
	every := time.Second / time.Duration(rate)
	start, n := time.Now(), 0
	for time.Since(start) < d {
		due := int(time.Since(start)/every) + 1
		for ; n < due; n++ {
			emit(row{ch: chans[n%len(chans)], id: ids.Next()})
		}
		time.Sleep(time.Millisecond)
	}
}

func perChannel(s *gocql.Session, ids *snowflake.Generator, chans []int64, content string, rate int, d time.Duration) stats {
	var mu sync.Mutex
	var st stats
	var wg sync.WaitGroup
	ticks(ids, chans, rate, d, func(r row) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := s.Batch(gocql.UnloggedBatch)
			b.Query(insertCQL, r.ch, cassandra.Bucket(r.id), r.id, int64(7), content, strconv.FormatInt(r.id, 36))
			st.exec(&mu, b, 1)
		}()
	})
	wg.Wait()
	return st
}

// exec sends one request of n rows and counts it.
func (st *stats) exec(mu *sync.Mutex, b *gocql.Batch, n int) {
	t := time.Now()
	err := b.Exec()
	mu.Lock()
	defer mu.Unlock()
	st.requests++
	st.lat = append(st.lat, time.Since(t))
	if err != nil {
		st.errors += n
	} else {
		st.stored += n
	}
}

func shared(s *gocql.Session, ids *snowflake.Generator, chans []int64, content string, rate int, window time.Duration, d time.Duration) stats {
	var mu sync.Mutex
	var st stats
	var pending []row
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(window)
		defer t.Stop()
		for range t.C {
			mu.Lock()
			part := pending
			pending = nil
			mu.Unlock()
			if len(part) == 0 {
				if stop.Load() {
					return
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := s.Batch(gocql.UnloggedBatch)
				for _, r := range part {
					b.Query(insertCQL, r.ch, cassandra.Bucket(r.id), r.id, int64(7), content, strconv.FormatInt(r.id, 36))
				}
				st.exec(&mu, b, len(part))
			}()
		}
	}()
	ticks(ids, chans, rate, d, func(r row) {
		mu.Lock()
		pending = append(pending, r)
		mu.Unlock()
	})
	stop.Store(true)
	wg.Wait()
	return st
}

// cpu is the process's user+system CPU time.
func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
