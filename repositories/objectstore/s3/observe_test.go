package s3_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/objectstore/s3"
)

type calls struct {
	mu     sync.Mutex
	ops    []string
	failed int
}

func (c *calls) DBCall(_ context.Context, store, op string, start, end time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if store == "s3" && !end.Before(start) {
		c.ops = append(c.ops, op)
	}
	if err != nil {
		c.failed++
	}
}

// With Calls set, every request is reported by method; a missing object (404) is an answer, not a failure.
func TestCallsAreReported(t *testing.T) {
	cfg := testenv.S3Config(t)
	var rec calls
	cfg.Calls = &rec
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := testenv.UniqueName("obs") + "/a.txt"
	if err := st.Put(ctx, key, strings.NewReader("hello"), 5, "text/plain"); err != nil {
		t.Fatal(err)
	}
	r, _, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, r)
	r.Close()
	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, key); err == nil {
		t.Fatal("a deleted object was found")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, op := range []string{"put", "get", "delete"} {
		if !strings.Contains(strings.Join(rec.ops, " "), op) {
			t.Errorf("reported %v, want %s among them", rec.ops, op)
		}
	}
	if rec.failed != 0 {
		t.Errorf("%d calls reported failed, want none (a 404 is an answer)", rec.failed)
	}
}
