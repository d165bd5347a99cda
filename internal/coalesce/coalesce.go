// Package coalesce is a write-behind buffer: values are collected by key, a newer value is combined with the
// one already waiting (so a key is written once per interval however often it changed), and the batch is
// written on a timer. A batch that fails to write is put back, under anything newer, and tried again next time.
package coalesce

import (
	"context"
	"sync"
	"time"
)

// Writer buffers values by key and writes them in batches. Its methods are safe for concurrent use.
type Writer[K comparable, V any] struct {
	write   func(context.Context, []V) error
	merge   func(older, newer V) V
	timeout time.Duration
	onFail  func(n int, err error)

	mu      sync.Mutex
	pending map[K]V

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
		pending: map[K]V{}, stop: make(chan struct{})}
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

// Get returns the value waiting for a key (not yet written).
func (w *Writer[K, V]) Get(k K) (V, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.pending[k]
	return v, ok
}

// Each calls fn for every waiting value, holding the writer's lock (fn must not call the writer).
func (w *Writer[K, V]) Each(fn func(K, V)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.pending {
		fn(k, v)
	}
}

// Len is the number of keys waiting.
func (w *Writer[K, V]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Flush writes what is waiting now. On failure the batch is put back and the error returned.
func (w *Writer[K, V]) Flush(ctx context.Context) error {
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.mu.Unlock()
		return nil
	}
	taken := w.pending
	w.pending = map[K]V{}
	w.mu.Unlock()
	batch := make([]V, 0, len(taken))
	for _, v := range taken {
		batch = append(batch, v)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	err := w.write(ctx, batch)
	if err == nil {
		return nil
	}
	w.mu.Lock()
	for k, v := range taken {
		if newer, ok := w.pending[k]; ok {
			v = w.merge(v, newer)
		}
		w.pending[k] = v
	}
	w.mu.Unlock()
	w.onFail(len(batch), err)
	return err
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
			_ = w.Flush(context.Background())
		}
	}
}
