package engineio

import (
	"container/heap"
	"sync"
	"time"
)

// Scheduler runs short callbacks at given times on one goroutine. Heartbeats, handshake deadlines and ack
// timeouts of every connection share it, so an idle connection costs no timer and no goroutine of its own.
// Callbacks must not block: they run one after another.
type Scheduler struct {
	mu    sync.Mutex
	items schedHeap
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	now   func() time.Time
}

type schedItem struct {
	at int64 // unix nanoseconds
	fn func()
}

type schedHeap []schedItem

func (h schedHeap) Len() int           { return len(h) }
func (h schedHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h schedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)        { *h = append(*h, x.(schedItem)) }
func (h *schedHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = schedItem{}
	*h = old[:len(old)-1]
	return it
}

// NewScheduler starts the scheduler's goroutine; Close stops it.
func NewScheduler() *Scheduler {
	s := &Scheduler{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), now: time.Now}
	go s.loop()
	return s
}

// After runs fn once, d from now (on the scheduler's goroutine).
func (s *Scheduler) After(d time.Duration, fn func()) { s.At(s.now().Add(d), fn) }

// At runs fn once at t (on the scheduler's goroutine).
func (s *Scheduler) At(t time.Time, fn func()) {
	at := t.UnixNano()
	s.mu.Lock()
	first := len(s.items) == 0 || at < s.items[0].at
	heap.Push(&s.items, schedItem{at: at, fn: fn})
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Len is the number of pending callbacks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Close stops the scheduler; pending callbacks are dropped.
func (s *Scheduler) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *Scheduler) loop() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []func()
	for {
		now := s.now().UnixNano()
		s.mu.Lock()
		for len(s.items) > 0 && s.items[0].at <= now {
			due = append(due, heap.Pop(&s.items).(schedItem).fn)
		}
		wait := time.Hour
		if len(s.items) > 0 {
			wait = time.Duration(s.items[0].at - now)
		}
		s.mu.Unlock()
		for i, fn := range due {
			fn()
			due[i] = nil
		}
		due = due[:0]
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.stop:
			return
		}
	}
}
