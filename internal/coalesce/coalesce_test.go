package coalesce_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/coalesce"
)

type counter struct {
	Key   string
	Count int
	Last  int
}

func addCounts(older, newer counter) counter {
	return counter{Key: newer.Key, Count: older.Count + newer.Count, Last: max(older.Last, newer.Last)}
}

// store is a fake destination that can be told to fail.
type store struct {
	mu      sync.Mutex
	fail    error
	batches [][]counter
}

func (s *store) write(_ context.Context, b []counter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	slices.SortFunc(b, func(x, y counter) int { return cmp.Compare(x.Key, y.Key) })
	s.batches = append(s.batches, b)
	return nil
}

func TestValuesOfOneKeyAreMergedIntoOneWrite(t *testing.T) {
	st := &store{}
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: addCounts})
	for i := range 5 {
		w.Add("a", counter{Key: "a", Count: 1, Last: i})
	}
	w.Add("b", counter{Key: "b", Count: 1, Last: 9})
	if v, ok := w.Get("a"); !ok || v.Count != 5 || v.Last != 4 {
		t.Fatalf("pending a = %+v, %v", v, ok)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []counter{{"a", 5, 4}, {"b", 1, 9}}
	if len(st.batches) != 1 || !slices.Equal(st.batches[0], want) {
		t.Fatalf("batches %+v, want one %+v", st.batches, want)
	}
	if w.Len() != 0 {
		t.Fatal("values left after a successful write")
	}
	if err := w.Flush(context.Background()); err != nil || len(st.batches) != 1 {
		t.Fatalf("an empty flush wrote: %v, %d batches", err, len(st.batches))
	}
}

// A failed batch comes back under what arrived meanwhile, and the next flush writes both merged.
func TestFailedBatchIsPutBackUnderNewerValues(t *testing.T) {
	st := &store{fail: errors.New("down")}
	var failed []int
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: addCounts,
		OnFail: func(n int, err error) { failed = append(failed, n) }})
	w.Add("a", counter{Key: "a", Count: 2, Last: 1})
	w.Add("b", counter{Key: "b", Count: 1, Last: 1})
	if err := w.Flush(context.Background()); err == nil {
		t.Fatal("the store's error was not returned")
	}
	if !slices.Equal(failed, []int{2}) {
		t.Fatalf("OnFail heard %v", failed)
	}
	w.Add("a", counter{Key: "a", Count: 3, Last: 7}) // newer than the failed batch
	st.fail = nil
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []counter{{"a", 5, 7}, {"b", 1, 1}}
	if len(st.batches) != 1 || !slices.Equal(st.batches[0], want) {
		t.Fatalf("batches %+v, want %+v", st.batches, want)
	}
}

// With newer-wins merging, a failed older value never overwrites a newer one.
func TestNewerWinsAfterAFailure(t *testing.T) {
	st := &store{fail: errors.New("down")}
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: func(_, newer counter) counter { return newer }})
	w.Add("a", counter{Key: "a", Last: 1})
	_ = w.Flush(context.Background())
	w.Add("a", counter{Key: "a", Last: 2})
	var seen []counter
	w.Each(func(_ string, v counter) { seen = append(seen, v) })
	if len(seen) != 1 || seen[0].Last != 2 {
		t.Fatalf("pending after the failure: %+v", seen)
	}
}

// The background loop writes on its own, and Close writes what is left once the loop has stopped.
func TestLoopAndClose(t *testing.T) {
	st := &store{}
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: addCounts})
	w.Start(10 * time.Millisecond)
	w.Add("a", counter{Key: "a", Count: 1})
	deadline := time.Now().Add(10 * time.Second)
	for w.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Add("b", counter{Key: "b", Count: 1})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var keys []string
	for _, b := range st.batches {
		for _, c := range b {
			keys = append(keys, c.Key)
		}
	}
	if !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("written %v", keys)
	}
}

// A write that hangs is cut off by the timeout and retried later.
func TestWriteTimeout(t *testing.T) {
	w := coalesce.New[string](coalesce.Config[counter]{Merge: addCounts, Timeout: 20 * time.Millisecond,
		Write: func(ctx context.Context, _ []counter) error { <-ctx.Done(); return ctx.Err() }})
	w.Add("a", counter{Key: "a", Count: 1})
	if err := w.Flush(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if v, ok := w.Get("a"); !ok || v.Count != 1 {
		t.Fatalf("the value was not kept: %+v %v", v, ok)
	}
}
