package redis

import (
	"context"
	"encoding/json"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/model"
)

// KeyNotices carries the key service's notices (model.KeyNotice) to the chat servers over the pub/sub channel
// <prefix>:keys:notices. Pub/sub, not a stream: a notice only makes devices sync sooner, so one lost while a
// chat server is disconnected costs its clients a fallback poll, not data.
type KeyNotices struct{ bus *Bus }

func NewKeyNotices(c *goredis.Client, prefix string) *KeyNotices {
	return &KeyNotices{bus: &Bus{c: c, channel: prefix + ":keys:notices"}}
}

// Notify publishes one notice (the key service).
func (k *KeyNotices) Notify(ctx context.Context, n model.KeyNotice) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := k.bus.Publish(ctx, [][]byte{b}); err != nil {
		return fmt.Errorf("redis: publishing a key notice: %w", err)
	}
	return nil
}

// Subscribe calls handle for every notice until ctx ends (the chat server); ready is called once the
// subscription is active, and again after each reconnect. Malformed notices are skipped.
func (k *KeyNotices) Subscribe(ctx context.Context, ready func(), handle func(model.KeyNotice)) error {
	return k.bus.Subscribe(ctx, ready, func(b []byte) {
		var n model.KeyNotice
		if json.Unmarshal(b, &n) == nil && len(n.UserIDs) > 0 {
			handle(n)
		}
	})
}
