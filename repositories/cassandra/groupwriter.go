package cassandra

import (
	"context"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/model"
)

// groupWriter merges concurrent writes: while `max` combined writes are in flight, new calls queue up and
// the next free writer takes all of them in one go (at most maxGroup messages). Under load the batches grow
// by themselves; a lone call is written at once.
type groupWriter struct {
	max   int
	write func(ctx context.Context, msgs []model.Message) error

	mu      sync.Mutex
	queue   []*groupReq
	running int
}

type groupReq struct {
	msgs []model.Message
	done chan error
}

const maxGroup = 1000

func (g *groupWriter) submit(ctx context.Context, msgs []model.Message) error {
	req := &groupReq{msgs: msgs, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.running < g.max {
		g.running++
		go g.run()
	}
	g.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the write may still land; callers retry, and writes are idempotent
	}
}

func (g *groupWriter) run() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		var reqs []*groupReq
		n := 0
		for len(g.queue) > 0 && (len(reqs) == 0 || n+len(g.queue[0].msgs) <= maxGroup) {
			n += len(g.queue[0].msgs)
			reqs = append(reqs, g.queue[0])
			g.queue = g.queue[1:]
		}
		g.mu.Unlock()

		all := make([]model.Message, 0, n)
		for _, r := range reqs {
			all = append(all, r.msgs...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := g.write(ctx, all)
		cancel()
		for _, r := range reqs {
			r.done <- err
		}
	}
}
