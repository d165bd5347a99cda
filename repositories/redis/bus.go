package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Bus carries messages between nodes over one Redis pub/sub channel, <prefix>:bus. One channel for
// everything (not one per room): Redis delivers one publisher's messages in order to every subscriber, so a
// room change and the broadcasts that follow it cannot overtake each other, and there is nothing to subscribe
// or unsubscribe when sockets join rooms (per-room subscriptions race joins against emits).
type Bus struct {
	c       *goredis.Client
	channel string
}

func NewBus(c *goredis.Client, prefix string) *Bus { return &Bus{c: c, channel: prefix + ":bus"} }

// Publish sends messages in order, in one round trip.
func (b *Bus) Publish(ctx context.Context, msgs [][]byte) error {
	if len(msgs) == 1 {
		return b.c.Publish(ctx, b.channel, msgs[0]).Err()
	}
	_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, m := range msgs {
			p.Publish(ctx, b.channel, m)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: publishing %d bus messages: %w", len(msgs), err)
	}
	return nil
}

// Subscribe calls handle for every bus message until ctx ends; ready is called once the subscription is
// active (and again after every reconnect: messages published while it was down are lost, and the caller
// may want to know). Handle must be quick (it holds up the messages behind it).
func (b *Bus) Subscribe(ctx context.Context, ready func(), handle func([]byte)) error {
	ps := b.c.Subscribe(ctx)
	defer ps.Close()
	if err := ps.Subscribe(ctx, b.channel); err != nil {
		return fmt.Errorf("redis: subscribing to the bus: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // a blocked receive does not watch ctx
	defer stop()
	for {
		msg, err := ps.ReceiveTimeout(ctx, 10*time.Second)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var nerr interface{ Timeout() bool }
			if errors.As(err, &nerr) && nerr.Timeout() {
				_ = ps.Ping(ctx) // keeps the connection checked while the bus is quiet
				continue
			}
			// go-redis reconnects and resubscribes on the next receive; wait a little to avoid spinning.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				ready()
			}
		case *goredis.Message:
			handle([]byte(m.Payload))
		case *goredis.Pong:
		}
	}
}
