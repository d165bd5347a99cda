package opensearch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/opensearch"
)

type calls struct {
	mu  sync.Mutex
	ops []string
}

func (c *calls) DBCall(ctx context.Context, store, op string, start, end time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Value(workKey{}) == "search" && store == "opensearch" && err == nil && !end.Before(start) {
		c.ops = append(c.ops, op)
	}
}

type workKey struct{}

// With Calls set, each request to the engine is reported by its API (search, …) with the caller's context.
func TestCallsAreReported(t *testing.T) {
	var rec calls
	s, err := opensearch.New(opensearch.Config{URLs: []string{testenv.SearchURL(t)}, Index: testenv.UniqueName("parley-test-obs"), Shards: 1, Calls: &rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.EnsureIndex(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteIndex(context.Background()) })
	if _, err := s.Search(context.WithValue(ctx, workKey{}, "search"), model.SearchQuery{Channels: []int64{1}, Terms: "hello"}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Contains(rec.ops, "search") {
		t.Fatalf("reported %v under the search's context, want search", rec.ops)
	}
}
