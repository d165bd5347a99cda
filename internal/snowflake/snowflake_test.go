package snowflake

import (
	"sync"
	"testing"
	"time"
)

func TestNextIsStrictlyIncreasingAndUnique(t *testing.T) {
	g, err := New(3)
	if err != nil {
		t.Fatal(err)
	}
	var prev int64
	for i := 0; i < 100_000; i++ {
		id := g.Next()
		if id <= prev {
			t.Fatalf("id %d after %d is not increasing", id, prev)
		}
		prev = id
	}
}

func TestConcurrentIDsAreUnique(t *testing.T) {
	g, _ := New(1)
	var mu sync.Mutex
	seen := make(map[int64]bool)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]int64, 0, 5000)
			for i := 0; i < 5000; i++ {
				local = append(local, g.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %d", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
}

func TestClockGoingBackwardsNeverDecreases(t *testing.T) {
	g, _ := New(0)
	now := Epoch.Add(time.Hour)
	g.now = func() time.Time { return now }
	a := g.Next()
	now = now.Add(-time.Minute)
	b := g.Next()
	if b <= a {
		t.Fatalf("id went backwards: %d then %d", a, b)
	}
}

func TestSequenceOverflowBorrowsNextMillisecond(t *testing.T) {
	g, _ := New(0)
	now := Epoch.Add(time.Hour)
	g.now = func() time.Time { return now }
	var last int64
	for i := 0; i <= maxSeq+1; i++ {
		last = g.Next()
	}
	if got, want := Time(last), now.Add(time.Millisecond).Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("after overflow time = %v, want %v", got, want)
	}
}

func TestTimeRoundTripAndFirstIDAt(t *testing.T) {
	g, _ := New(7)
	ts := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return ts }
	id := g.Next()
	if !Time(id).Equal(ts) {
		t.Fatalf("Time(id) = %v, want %v", Time(id), ts)
	}
	if FirstIDAt(ts) > id || FirstIDAt(ts.Add(time.Millisecond)) <= id {
		t.Fatalf("FirstIDAt does not bracket id")
	}
	if FirstIDAt(Epoch.Add(-time.Hour)) != 0 {
		t.Fatal("times before the epoch must map to 0")
	}
}

func TestNodeRange(t *testing.T) {
	if _, err := New(-1); err == nil {
		t.Fatal("negative node accepted")
	}
	if _, err := New(1024); err == nil {
		t.Fatal("node 1024 accepted")
	}
}
