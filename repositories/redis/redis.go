// Package redis keeps the cluster's coordination state in Redis: node leases (who is alive, and where to reach
// it), channel leases with epochs (which node orders a channel's messages), and the bus that carries broadcasts
// and cache invalidations between nodes over one pub/sub channel. Nothing here is durable data: a Redis restart
// loses only leases, which nodes re-establish within a lease period.
//
// The scripts read keys they are not passed in KEYS (a channel lease reads its holder's node lease), so this
// package needs a standalone (or Sentinel-managed) Redis, not Redis Cluster.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Connect opens a client for a redis:// URL and checks that the server answers.
func Connect(ctx context.Context, url string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parsing the URL: %w", err)
	}
	// Short timeouts: a frozen Redis must turn into errors quickly (lease renewals, publishes), never into
	// callers that wait for minutes.
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	opts.MaxRetries = 1
	// No CLIENT SETINFO on each new connection: Redis before 7.2 refuses it, which the driver ignores but our
	// command observer would count as a failure of the store.
	opts.DisableIdentity = true
	c := goredis.NewClient(opts)
	if err := Ping(ctx, c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that Redis answers.
func Ping(ctx context.Context, c *goredis.Client) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}
