package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Observer hears every Redis command when it ends (metrics; tracing spans get the real start and end).
type Observer interface {
	DBCall(ctx context.Context, store, op string, start, end time.Time, err error)
}

// Instrument reports every command of c (op: the command's name, e.g. evalsha, publish) and every pipeline to obs.
func Instrument(c *goredis.Client, obs Observer) { c.AddHook(hook{obs}) }

type hook struct{ obs Observer }

func (h hook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.obs.DBCall(ctx, "redis", cmd.Name(), start, time.Now(), failure(err))
		return err
	}
}

func (h hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.obs.DBCall(ctx, "redis", "pipeline", start, time.Now(), failure(err))
		return err
	}
}

// failure drops redis.Nil: a key that does not exist is an answer, not a failure of the store.
func failure(err error) error {
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}
