// Package coalesce is a write-behind buffer: values are collected by key, a newer value is combined with the
// one already waiting (so a key is written once per interval however often it changed), and the batch is
// written on a timer. A batch that fails to write is put back, under anything newer, and tried again next time.
//
// The timer's batch is written in chunks spread over the first half of the interval rather than all at once:
// the database shares the machine's cores with the message path, and a burst of a few hundred upserts every
// few seconds (FerretDB: about a millisecond of CPU each) showed up as a 100 ms stall in message delivery
// every interval (BENCHMARKS.md, 2026-12-07). An explicit Flush and Close write at once.
package coalesce

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Writer buffers values by key and writes them in batches. Its methods are safe for concurrent use.
type Writer[K comparable, V any] struct {
	write   func(context.Context, []V) error
	merge   func(older, newer V) V
	timeout time.Duration
	onFail  func(n int, err error)

	mu       sync.Mutex
	pending  map[K]V
	inflight map[K]V       // taken for writing and not yet written (Get and Each still see it)
	writing  sync.Mutex    // one batch at a time, so inflight is one batch's
	hurry    chan struct{} // an explicit Flush asks a spread in progress to write its rest at once

	stop    chan struct{}
	loops   sync.WaitGroup
	started sync.Once
	stopped sync.Once
}

// Config tells a Writer how to store a batch and how to combine two values of one key.
type Config[V any] struct {
	// Write stores a batch (each key once).
	Write func(ctx context.Context, batch []V) error
	// Merge combines the value waiting for a key with a newer one (keep the newer, add counts, take maxima).
	// A failed batch is put back as Merge(failed, newer) when the key changed meanwhile.
	Merge func(older, newer V) V
	// Timeout bounds one write (default 10 s).
	Timeout time.Duration
	// OnFail hears of a batch that could not be written (it will be retried): log it there.
	OnFail func(n int, err error)
}

// New returns a Writer; it writes when Flush is called, and on a timer once Start is.
func New[K comparable, V any](cfg Config[V]) *Writer[K, V] {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.OnFail == nil {
		cfg.OnFail = func(int, error) {}
	}
	w := &Writer[K, V]{write: cfg.Write, merge: cfg.Merge, timeout: cfg.Timeout, onFail: cfg.OnFail,
		pending: map[K]V{}, stop: make(chan struct{}), hurry: make(chan struct{}, 1)}
	return w
}

// Start writes what is waiting every interval, in the background, until Close (later calls do nothing).
func (w *Writer[K, V]) Start(every time.Duration) {
	w.started.Do(func() {
		w.loops.Add(1)
		go w.loop(every)
	})
}

// Add records a value for a key, merged with the one already waiting.
func (w *Writer[K, V]) Add(k K, v V) {
	w.mu.Lock()
	if old, ok := w.pending[k]; ok {
		v = w.merge(old, v)
	}
	w.pending[k] = v
	w.mu.Unlock()
}

// Get returns the value not yet written for a key (waiting, or taken by a write that has not finished).
func (w *Writer[K, V]) Get(k K) (V, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unwrittenLocked(k)
}

func (w *Writer[K, V]) unwrittenLocked(k K) (V, bool) {
	v, ok := w.pending[k]
	if old, inflight := w.inflight[k]; inflight {
		if ok {
			return w.merge(old, v), true
		}
		return old, true
	}
	return v, ok
}

// Each calls fn for every key's value not yet written (as Get), holding the writer's lock (fn must not call
// the writer).
func (w *Writer[K, V]) Each(fn func(K, V)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.pending {
		v, _ := w.unwrittenLocked(k)
		fn(k, v)
	}
	for k, v := range w.inflight {
		if _, waiting := w.pending[k]; !waiting {
			fn(k, v)
		}
	}
}

// Len is the number of keys not yet written.
func (w *Writer[K, V]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.pending)
	for k := range w.inflight {
		if _, waiting := w.pending[k]; !waiting {
			n++
		}
	}
	return n
}

// Flush writes what is waiting now, in one write (a timed batch being spread is hurried along first). On failure
// the batch is put back and the error returned.
func (w *Writer[K, V]) Flush(ctx context.Context) error {
	select {
	case w.hurry <- struct{}{}:
	default:
	}
	w.writing.Lock()
	defer w.writing.Unlock()
	select {
	case <-w.hurry: // no spread took it: not to hurry the next one
	default:
	}
	return w.flushLocked(ctx, 0, nil)
}

// chunk is how many values one write of a spread batch carries.
const chunk = 8

// flushLocked writes what is waiting; the caller holds w.writing. With spread > 0 it writes chunks of `chunk` values spaced evenly over spread,
// and the rest at once as soon as stop is closed or a Flush asks. A failed write puts back its chunk and every later one.
func (w *Writer[K, V]) flushLocked(ctx context.Context, spread time.Duration, stop <-chan struct{}) error {
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.mu.Unlock()
		return nil
	}
	taken := w.pending
	w.pending, w.inflight = map[K]V{}, maps.Clone(taken)
	w.mu.Unlock()
	keys := make([]K, 0, len(taken))
	for k := range taken {
		keys = append(keys, k)
	}
	size := len(keys)
	var gap time.Duration
	if spread > 0 {
		size = chunk
		gap = spread / time.Duration((len(keys)+chunk-1)/chunk)
	}
	for start := 0; start < len(keys); start += size {
		if start > 0 && gap > 0 {
			select {
			case <-stop:
				gap, size = 0, len(keys) // shutting down: the rest in one write, no waiting
			case <-w.hurry:
				gap, size = 0, len(keys)
			case <-time.After(gap):
			}
		}
		part := keys[start:min(start+size, len(keys))]
		batch := make([]V, len(part))
		for i, k := range part {
			batch[i] = taken[k]
		}
		wctx, cancel := context.WithTimeout(ctx, w.timeout)
		err := w.write(wctx, batch)
		cancel()
		w.mu.Lock()
		if err != nil {
			for _, k := range keys[start:] {
				v := taken[k]
				if newer, ok := w.pending[k]; ok {
					v = w.merge(v, newer)
				}
				w.pending[k] = v
			}
			w.inflight = nil
			w.mu.Unlock()
			w.onFail(len(keys)-start, err)
			return err
		}
		for _, k := range part {
			delete(w.inflight, k)
		}
		w.mu.Unlock()
	}
	return nil
}

// Close stops the background loop and writes what is waiting (once; ctx bounds that last write).
func (w *Writer[K, V]) Close(ctx context.Context) error {
	w.stopped.Do(func() { close(w.stop) })
	w.loops.Wait()
	return w.Flush(ctx)
}

func (w *Writer[K, V]) loop(every time.Duration) {
	defer w.loops.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.writing.Lock()
			_ = w.flushLocked(context.Background(), every/2, w.stop)
			w.writing.Unlock()
		}
	}
}
