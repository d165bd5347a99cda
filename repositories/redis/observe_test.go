package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/redis"
)

type calls struct {
	mu     sync.Mutex
	ops    []string
	failed []string
}

func (c *calls) DBCall(_ context.Context, store, op string, start, end time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if store != "redis" || end.Before(start) {
		c.ops = append(c.ops, "bad:"+store)
	}
	c.ops = append(c.ops, op)
	if err != nil {
		c.failed = append(c.failed, op)
	}
}

// Every command and pipeline is reported by name (a new connection's own setup, HELLO, is reported too); a missing
// key (redis.Nil) is an answer, not an error.
func TestObserveReportsCommands(t *testing.T) {
	c, prefix := testenv.Redis(t)
	var rec calls
	redis.Instrument(c, &rec)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+":k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_ = c.Get(ctx, prefix+":missing").Err()
	pipe := c.Pipeline()
	pipe.Incr(ctx, prefix+":n")
	pipe.Incr(ctx, prefix+":n")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.Do(ctx, "NOSUCHCOMMAND").Err()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{"set", "get", "pipeline", "nosuchcommand"}
	i := 0
	for _, op := range rec.ops {
		if i < len(want) && op == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("reported %v, want %v in that order", rec.ops, want)
	}
	if len(rec.failed) != 1 || rec.failed[0] != "nosuchcommand" {
		t.Errorf("failures reported: %v, want the unknown command only", rec.failed)
	}
}
