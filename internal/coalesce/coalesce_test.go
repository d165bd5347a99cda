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

// The timer's batch is written in chunks spread over half the interval, not in one burst; a failed chunk puts
// back itself and the chunks after it, not the ones already written.
func TestTimedBatchIsSpreadInChunks(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var at []time.Time
	fail := 2 // the second chunk fails once
	w := coalesce.New[string](coalesce.Config[counter]{Merge: addCounts,
		Write: func(_ context.Context, b []counter) error {
			mu.Lock()
			defer mu.Unlock()
			if len(sizes) == 1 && fail > 0 {
				fail = 0
				sizes = append(sizes, -len(b))
				at = append(at, time.Now())
				return errors.New("down")
			}
			sizes = append(sizes, len(b))
			at = append(at, time.Now())
			return nil
		}})
	for i := range 20 {
		w.Add(string(rune('a'+i)), counter{Key: string(rune('a' + i)), Count: 1})
	}
	w.Start(400 * time.Millisecond) // chunks of 8 spread over 200 ms: 8, 8, 4, about 67 ms apart
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		written := 0
		for _, n := range sizes {
			written += max(n, 0)
		}
		mu.Unlock()
		if written == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not everything written: chunks %v", sizes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// First tick: 8 written, 8 failed (12 put back); second tick: the 12 again as 8 and 4.
	if !slices.Equal(sizes, []int{8, -8, 8, 4}) {
		t.Fatalf("chunk sizes %v, want [8 -8 8 4]", sizes)
	}
	if gap := at[1].Sub(at[0]); gap < 40*time.Millisecond {
		t.Fatalf("chunks %v apart: not spread", gap)
	}
}

// Values taken by a write that has not finished are still "not yet written" for Get, Each and Len, merged
// with anything newer, until the write succeeds.
func TestValuesBeingWrittenStayVisible(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	w := coalesce.New[string](coalesce.Config[counter]{Merge: addCounts,
		Write: func(context.Context, []counter) error { started <- struct{}{}; <-release; return nil }})
	w.Add("a", counter{Key: "a", Count: 1, Last: 1})
	w.Add("b", counter{Key: "b", Count: 1, Last: 1})
	done := make(chan error)
	go func() { done <- w.Flush(context.Background()) }()
	<-started
	w.Add("a", counter{Key: "a", Count: 2, Last: 5})
	if v, ok := w.Get("a"); !ok || v.Count != 3 || v.Last != 5 {
		t.Fatalf("Get(a) during the write = %+v, %v; want the taken value merged with the newer one", v, ok)
	}
	if v, ok := w.Get("b"); !ok || v.Count != 1 {
		t.Fatalf("Get(b) during the write = %+v, %v", v, ok)
	}
	seen := map[string]int{}
	w.Each(func(k string, v counter) { seen[k] += v.Count })
	if seen["a"] != 3 || seen["b"] != 1 || len(seen) != 2 || w.Len() != 2 {
		t.Fatalf("Each during the write saw %v, Len %d", seen, w.Len())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, ok := w.Get("a"); !ok || v.Count != 2 || w.Len() != 1 {
		t.Fatalf("after the write: Get(a) = %+v, %v, Len %d; want only the newer value", v, ok, w.Len())
	}
	if _, ok := w.Get("b"); ok {
		t.Fatal("b is still unwritten after its write")
	}
}

// Close while a timed batch is being spread writes the rest at once instead of waiting out the spread.
func TestCloseCutsTheSpreadShort(t *testing.T) {
	st := &store{}
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: addCounts})
	for i := range 40 {
		w.Add(string(rune('A'+i)), counter{Key: string(rune('A' + i)), Count: 1})
	}
	w.Start(2 * time.Second) // five chunks 250 ms apart, if nothing cut them short
	deadline := time.Now().Add(30 * time.Second)
	for {
		st.mu.Lock()
		n := len(st.batches)
		st.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first tick wrote nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 200*time.Millisecond {
		t.Fatalf("Close took %v: it waited for the spread", d)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	total := 0
	for _, b := range st.batches {
		total += len(b)
	}
	if total != 40 || w.Len() != 0 {
		t.Fatalf("written %d of 40 (batches %d), %d left", total, len(st.batches), w.Len())
	}
}

// An explicit Flush while a timed batch is being spread does not wait out the spread: the rest is written at once.
func TestFlushHurriesASpreadAlong(t *testing.T) {
	st := &store{}
	w := coalesce.New[string](coalesce.Config[counter]{Write: st.write, Merge: addCounts})
	defer w.Close(context.Background())
	for i := range 40 {
		w.Add(string(rune('A'+i)), counter{Key: string(rune('A' + i)), Count: 1})
	}
	w.Start(2 * time.Second) // five chunks 250 ms apart, if nothing hurried them
	deadline := time.Now().Add(30 * time.Second)
	for {
		st.mu.Lock()
		n := len(st.batches)
		st.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first tick wrote nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Add("late", counter{Key: "late", Count: 1})
	t0 := time.Now()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 200*time.Millisecond {
		t.Fatalf("Flush took %v: it waited for the spread", d)
	}
	if n := w.Len(); n != 0 {
		t.Fatalf("%d keys unwritten after Flush", n)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	total := 0
	for _, b := range st.batches {
		total += len(b)
	}
	if total != 41 {
		t.Fatalf("written %d of 41", total)
	}
}
