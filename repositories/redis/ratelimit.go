package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RateLimiter is a rate limit shared by every node (GCRA on one key per limited thing): a user who has
// sockets on three nodes gets one budget, not three.
type RateLimiter struct {
	c      *goredis.Client
	prefix string
	every  time.Duration
	burst  int
}

// NewRateLimiter allows burst events at once, then one per every, per key.
func NewRateLimiter(c *goredis.Client, prefix string, every time.Duration, burst int) *RateLimiter {
	return &RateLimiter{c: c, prefix: prefix + ":rate:", every: every, burst: burst}
}

// gcraScript keeps the key's theoretical arrival time (µs, Redis's clock); it answers 0 (allowed) or the wait.
var gcraScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local every, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + every
if nxt - tolerance > now then return nxt - tolerance - now end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return 0`)

// Allow takes one event for key; when over the limit it returns false and how long to wait.
func (r *RateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	every := r.every.Microseconds()
	wait, err := gcraScript.Run(ctx, r.c, []string{r.prefix + key}, every, every*int64(r.burst)).Int64()
	if err != nil {
		return true, 0, fmt.Errorf("redis: rate limit: %w", err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Microsecond, nil
	}
	return true, 0, nil
}
