// Package cassandra stores the message log in Cassandra (apache/cassandra-gocql-driver v2) and owns its
// schema migrations.
package cassandra

import (
	"context"
	"fmt"
	"regexp"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Config says where the cluster is and how the keyspace is replicated.
type Config struct {
	Hosts       []string
	Keyspace    string
	Replication string // a CQL replication map, used only when the keyspace is created
	Consistency string // e.g. LOCAL_QUORUM
	Timeout     time.Duration
	// Observer, when set, sees every query (its statement, latency and error): metrics, and tests that count
	// what an operation costs.
	Observer gocql.QueryObserver
	// Calls, when set, hears every query and batch by operation (metrics, tracing).
	Calls Observer
}

var keyspaceName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,47}$`)

// Connect creates the keyspace if needed and returns a session bound to it.
func Connect(ctx context.Context, cfg Config) (*gocql.Session, error) {
	if !keyspaceName.MatchString(cfg.Keyspace) {
		return nil, fmt.Errorf("cassandra: invalid keyspace name %q", cfg.Keyspace)
	}
	cons, err := parseConsistency(cfg.Consistency)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Timeout = cfg.Timeout
	cluster.ConnectTimeout = cfg.Timeout
	cluster.Consistency = cons
	// Retry reads and idempotent writes a little on timeouts instead of surfacing every hiccup.
	cluster.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	// Reconnect to a node that went away within a second (the default is a minute), so a restarted node is
	// used again, and queued messages drain, almost as soon as it is back.
	cluster.ReconnectInterval = time.Second
	// Gather the frames of concurrent requests for up to 1 ms on one connection (the driver's default is 200 µs
	// on two): fewer, larger reads for Cassandra's network threads, which cost it as much CPU as the writes
	// themselves (BENCHMARKS.md, "Cassandra settings").
	cluster.WriteCoalesceWaitTime = time.Millisecond
	cluster.NumConns = 1
	cluster.QueryObserver = cfg.Observer
	if cfg.Calls != nil {
		o := observer{obs: cfg.Calls, next: cfg.Observer}
		cluster.QueryObserver, cluster.BatchObserver = o, o
	}

	admin, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: connecting to %v: %w", cfg.Hosts, err)
	}
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true",
		cfg.Keyspace, cfg.Replication)
	err = admin.Query(stmt).ExecContext(ctx)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("cassandra: creating keyspace: %w", err)
	}

	cluster.Keyspace = cfg.Keyspace
	// Send each statement straight to a replica of its partition (no extra coordinator hop on a multi-node
	// cluster), spreading load over the replicas. A policy instance belongs to one session.
	cluster.PoolConfig.HostSelectionPolicy = gocql.ShuffledTokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	s, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: opening keyspace %s: %w", cfg.Keyspace, err)
	}
	return s, nil
}

// Ping runs a real query.
func Ping(ctx context.Context, s *gocql.Session) error {
	var v string
	return s.Query("SELECT release_version FROM system.local").ScanContext(ctx, &v)
}

// parseConsistency is the driver's parser, with LOCAL_QUORUM when unset.
func parseConsistency(s string) (gocql.Consistency, error) {
	if s == "" {
		return gocql.LocalQuorum, nil
	}
	c, err := gocql.ParseConsistencyWrapper(s)
	if err != nil {
		return 0, fmt.Errorf("cassandra: unknown consistency %q", s)
	}
	return c, nil
}
