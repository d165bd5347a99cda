package clusterapi

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// Forwarded sends to one node are batched: one HTTP request carries every send that queued while the previous
// requests were on their way (nothing waits to fill a batch, so an idle gateway adds no delay), with a few
// requests in flight at once. Measured before batching: one request per forwarded message cost the three nodes
// about twice a single node's CPU per message.
const (
	batchesInFlight = 4
	batchTimeout    = 15 * time.Second
)

type pendingSend struct {
	req  sendRequest
	done chan sendResult
}

type sendResult struct {
	m   model.Message
	err error
}

type batcher struct {
	c     *Client
	node  int64
	mu    sync.Mutex
	queue []pendingSend
	wake  chan struct{}
	slots chan struct{}
}

// batcher returns the node's batcher, starting it on first use.
func (c *Client) batcher(node int64) *batcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.batchers[node]
	if !ok {
		b = &batcher{c: c, node: node, wake: make(chan struct{}, 1), slots: make(chan struct{}, batchesInFlight)}
		c.batchers[node] = b
		go b.run()
	}
	return b
}

func (b *batcher) add(p pendingSend) {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *batcher) run() {
	for {
		select {
		case <-b.c.stop:
			b.failAll(apperr.New(apperr.Unavailable, "the server is shutting down; retry"))
			return
		case <-b.wake:
		}
		for {
			b.mu.Lock()
			n := min(len(b.queue), maxBatch)
			batch := append([]pendingSend(nil), b.queue[:n]...)
			b.queue = b.queue[n:]
			if len(b.queue) == 0 {
				b.queue = nil
			}
			b.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case b.slots <- struct{}{}:
			case <-b.c.stop:
				for _, p := range batch {
					p.done <- sendResult{err: apperr.New(apperr.Unavailable, "the server is shutting down; retry")}
				}
				continue
			}
			go func() {
				defer func() { <-b.slots }()
				b.send(batch)
			}()
		}
	}
}

func (b *batcher) failAll(err error) {
	b.mu.Lock()
	queue := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, p := range queue {
		p.done <- sendResult{err: err}
	}
}

func (b *batcher) send(batch []pendingSend) {
	in := batchRequest{Items: make([]sendRequest, len(batch))}
	for i, p := range batch {
		in.Items[i] = p.req
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var out batchReply
	err := b.c.post(ctx, b.node, pathBatch, in, &out, maxBatchIn)
	if err == nil && len(out.Results) != len(batch) {
		err = apperr.New(apperr.Unavailable, "the server that owns this channel answered a batch badly; retry")
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- sendResult{err: err}
		case out.Results[i].Error != nil:
			p.done <- sendResult{err: out.Results[i].Error.err()}
		case out.Results[i].Message == nil:
			p.done <- sendResult{err: apperr.New(apperr.Unavailable, "the server that owns this channel answered without the message; retry")}
		default:
			p.done <- sendResult{m: *out.Results[i].Message}
		}
	}
}
