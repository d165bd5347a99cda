package app

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/parleychat/parley/repositories/redis"
)

// relayKeyNotices reads the key service's notices (PARLEY_KEYS_REDIS_URL) and sends them as e2ee:sync to the
// sockets of the users concerned on this node, until the returned stop is called. Off without the URL. A Redis
// outage only delays the notices' effect to the browsers' fallback poll, so it is retried, never fatal.
func (a *App) relayKeyNotices(ctx context.Context) (stop func()) {
	if a.cfg.KeysRedisURL == "" {
		return func() {}
	}
	opts, err := goredis.ParseURL(a.cfg.KeysRedisURL)
	if err != nil { // checked by config.Load; kept for safety
		a.log.Error("PARLEY_KEYS_REDIS_URL", "err", err)
		return func() {}
	}
	opts.DisableIdentity = true
	rc := goredis.NewClient(opts)
	notices := redisstore.NewKeyNotices(rc, a.cfg.Cluster.RedisPrefix)
	pub := a.sockets.Publisher()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			err := notices.Subscribe(ctx, func() { a.log.Info("relaying key notices", "channel", a.cfg.Cluster.RedisPrefix+":keys:notices") }, pub.KeyNotice)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("key notices: Redis unavailable; browsers fall back to polling", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		_ = rc.Close()
	}
}
