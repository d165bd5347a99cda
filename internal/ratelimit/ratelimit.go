// Package ratelimit keeps one token bucket (golang.org/x/time/rate) per key — an IP, an account, a user —
// and forgets keys that have been idle long enough to be full again, so memory stays bounded.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets sharing one rate and burst.
type Keyed struct {
	mu       sync.Mutex
	every    time.Duration
	burst    int
	buckets  map[string]*entry
	now      func() time.Time
	lastSwep time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// New allows burst events at once, then one per `every`.
func New(every time.Duration, burst int) *Keyed {
	return &Keyed{every: every, burst: burst, buckets: map[string]*entry{}, now: time.Now}
}

// Allow takes one token for key. When none is left it returns false and how long to wait for the next one.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	e := k.bucketLocked(key, now)
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucketLocked returns key's bucket (a full one if new) and marks it used now. Callers hold k.mu.
func (k *Keyed) bucketLocked(key string, now time.Time) *entry {
	k.sweep(now)
	e, ok := k.buckets[key]
	if !ok {
		e = &entry{lim: rate.NewLimiter(rate.Every(k.every), k.burst)}
		k.buckets[key] = e
	}
	e.seen = now
	return e
}

// sweep drops buckets idle long enough to have refilled completely.
func (k *Keyed) sweep(now time.Time) {
	full := k.every * time.Duration(k.burst)
	if now.Sub(k.lastSwep) < full && len(k.buckets) < 100_000 {
		return
	}
	k.lastSwep = now
	for key, e := range k.buckets {
		if now.Sub(e.seen) > full {
			delete(k.buckets, key)
		}
	}
}

// Peek reports whether key has a token now without taking it; when it has none, also how long until it has.
// With Spend it counts only some events (failed logins) while every attempt is checked.
func (k *Keyed) Peek(key string) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	e, ok := k.buckets[key]
	if !ok {
		return true, 0
	}
	tokens := e.lim.TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) * float64(k.every))
}

// Spend takes one token from key, going into debt when none is left: attempts that raced past Peek together
// all count, and each makes the next wait longer.
func (k *Keyed) Spend(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	e := k.bucketLocked(key, now)
	e.lim.ReserveN(now, 1) // never refused for n ≤ burst: a reservation in the future is the debt
}
