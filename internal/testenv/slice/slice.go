// Package slice creates and drops an isolated slice of the local stack, so that test runs share the databases
// without seeing each other's data: a Postgres database, a MongoDB database, a Cassandra keyspace, an
// OpenSearch index and a Redis key prefix, all named after one slice name. The Go tests use it through
// internal/testenv (one slice per test, dropped by t.Cleanup); the end-to-end suite and the benchmark use it
// through cmd/slice. The server creates and migrates what is missing in Mongo, Cassandra and OpenSearch at
// start, so creating a slice only creates its Postgres database.
package slice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// identifier is what every store accepts as a name and what can be put into SQL and CQL unquoted.
var identifier = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// generated matches the names NewName makes from a parley_ prefix: cmd/slice drops nothing else, so it can
// never drop the application's own data (named parley).
var generated = regexp.MustCompile(`^parley_[a-z0-9_]+_[0-9a-f]{12}$`)

// NewName returns prefix_<12 random hex digits>, a valid name in every store.
func NewName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// IsRedisPrefixOfSlice reports whether prefix is a generated slice name, alone or followed by - or _ and more.
func IsRedisPrefixOfSlice(prefix string) bool {
	m := generatedStart.FindString(prefix)
	return m != "" && !strings.ContainsAny(prefix, "*?[]\\: ")
}

var generatedStart = regexp.MustCompile(`^parley_[a-z0-9_]+_[0-9a-f]{12}($|[-_])`)

// IsGenerated reports whether name was made by NewName with a parley_ prefix (parley_e2e, parley_bench).
func IsGenerated(name string) bool { return generated.MatchString(name) }

func check(name string) error {
	if !identifier.MatchString(name) {
		return fmt.Errorf("slice: %q is not a valid slice name (lower-case letters, digits and _, at most 48)", name)
	}
	return nil
}

// WithDatabase returns the Postgres URL dsn pointed at database db.
func WithDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("slice: bad Postgres URL: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

// CreatePostgres creates database name on admin's server, as a copy of template when it is not empty. A
// template cannot be copied while another session is connected to it, so that is retried for up to 5 s.
func CreatePostgres(ctx context.Context, admin *pgx.Conn, name, template string) error {
	if err := check(name); err != nil {
		return err
	}
	sql := "CREATE DATABASE " + name
	if template != "" {
		if err := check(template); err != nil {
			return err
		}
		sql += " TEMPLATE " + template
	}
	var err error
	for attempt := 0; attempt <= 50; attempt++ {
		if _, err = admin.Exec(ctx, sql); err == nil || template == "" {
			break
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

// DropPostgres drops database name, disconnecting its sessions.
func DropPostgres(ctx context.Context, admin *pgx.Conn, name string) error {
	if err := check(name); err != nil {
		return err
	}
	_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}

// DropMongo drops MongoDB database name.
func DropMongo(ctx context.Context, c *mongo.Client, name string) error {
	if err := check(name); err != nil {
		return err
	}
	return c.Database(name).Drop(ctx)
}

// DropKeyspace drops Cassandra keyspace name (slow on a busy node: give ctx a minute).
func DropKeyspace(ctx context.Context, s *gocql.Session, name string) error {
	if err := check(name); err != nil {
		return err
	}
	return s.Query("DROP KEYSPACE IF EXISTS " + name).ExecContext(ctx)
}

// DropRedisPrefix deletes every key under prefix ("prefix:..."), in batches found by SCAN.
func DropRedisPrefix(ctx context.Context, c *goredis.Client, prefix string) error {
	if prefix == "" || strings.ContainsAny(prefix, "*?[]\\") {
		return fmt.Errorf("slice: refusing Redis prefix %q", prefix)
	}
	it := c.Scan(ctx, 0, prefix+":*", 500).Iterator()
	var batch []string
	for it.Next(ctx) {
		if batch = append(batch, it.Val()); len(batch) == 500 {
			if err := c.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return c.Del(ctx, batch...).Err()
	}
	return nil
}

// DropSearchIndex deletes the server's message index for name: the concrete index name-v1 behind the alias
// name (an alias cannot be deleted by its name), or an index called name. A missing index is no error.
func DropSearchIndex(ctx context.Context, searchURL, name string) error {
	if err := check(name); err != nil {
		return err
	}
	base := strings.TrimRight(strings.Split(searchURL, ",")[0], "/")
	for _, index := range []string{name + "-v1", name} {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/"+index, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return nil
		case http.StatusNotFound:
		default:
			return fmt.Errorf("slice: deleting index %s: HTTP %d", index, resp.StatusCode)
		}
	}
	return nil
}

// Stack is where the local stack's servers are (the PARLEY_* settings of .local/stack.env).
type Stack struct {
	PostgresURL    string   // any database; the slice's is made from it
	MongoURI       string   //
	CassandraHosts []string //
	SearchURL      string   // optional: no index is dropped without it
	RedisURL       string   // optional: no keys are deleted without it
}

// StackFromEnv reads the stack's settings through getenv (os.Getenv, or a lookup with defaults).
func StackFromEnv(getenv func(string) string) Stack {
	st := Stack{PostgresURL: getenv("PARLEY_POSTGRES_URL"), MongoURI: getenv("PARLEY_MONGO_URI"),
		SearchURL: getenv("PARLEY_SEARCH_URLS"), RedisURL: getenv("PARLEY_REDIS_URL")}
	if h := getenv("PARLEY_CASSANDRA_HOSTS"); h != "" {
		st.CassandraHosts = strings.Split(h, ",")
	}
	return st
}

// Env is the server's settings for slice name on st: its own Postgres database, Mongo database, Cassandra
// keyspace, search index and Redis prefix.
func Env(st Stack, name string) (map[string]string, error) {
	if err := check(name); err != nil {
		return nil, err
	}
	pg, err := WithDatabase(st.PostgresURL, name)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"PARLEY_SLICE":              name,
		"PARLEY_POSTGRES_URL":       pg,
		"PARLEY_MONGO_DATABASE":     name,
		"PARLEY_CASSANDRA_KEYSPACE": name,
		"PARLEY_SEARCH_INDEX":       name,
		"PARLEY_REDIS_PREFIX":       name,
	}, nil
}

func adminPostgres(ctx context.Context, st Stack) (*pgx.Conn, error) {
	admin, err := WithDatabase(st.PostgresURL, "postgres")
	if err != nil {
		return nil, err
	}
	return pgx.Connect(ctx, admin)
}

// Create makes slice name on st (its Postgres database; the server creates the rest) and returns Env.
func Create(ctx context.Context, st Stack, name string) (map[string]string, error) {
	env, err := Env(st, name)
	if err != nil {
		return nil, err
	}
	admin, err := adminPostgres(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer admin.Close(context.Background())
	if err := CreatePostgres(ctx, admin, name, ""); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return env, nil
}

// Drop removes everything of slice name from st, going on past failures (a store that is down); the error
// names each part that could not be dropped.
func Drop(ctx context.Context, st Stack, name string) error {
	if err := check(name); err != nil {
		return err
	}
	var errs []error
	if admin, err := adminPostgres(ctx, st); err != nil {
		errs = append(errs, fmt.Errorf("postgres: %w", err))
	} else {
		if err := DropPostgres(ctx, admin, name); err != nil {
			errs = append(errs, fmt.Errorf("postgres: %w", err))
		}
		admin.Close(context.Background())
	}
	if c, err := mongo.Connect(mongoOptions(st.MongoURI)); err != nil {
		errs = append(errs, fmt.Errorf("mongo: %w", err))
	} else {
		if err := DropMongo(ctx, c, name); err != nil {
			errs = append(errs, fmt.Errorf("mongo: %w", err))
		}
		_ = c.Disconnect(context.Background())
	}
	if s, err := cassandraSession(st.CassandraHosts); err != nil {
		errs = append(errs, fmt.Errorf("cassandra: %w", err))
	} else {
		if err := DropKeyspace(ctx, s, name); err != nil {
			errs = append(errs, fmt.Errorf("cassandra: %w", err))
		}
		s.Close()
	}
	if st.SearchURL != "" {
		if err := DropSearchIndex(ctx, st.SearchURL, name); err != nil {
			errs = append(errs, fmt.Errorf("opensearch: %w", err))
		}
	}
	if st.RedisURL != "" {
		if err := DropRedis(ctx, st, name); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
	}
	return errors.Join(errs...)
}

// DropRedis deletes the keys under prefix on st's Redis.
func DropRedis(ctx context.Context, st Stack, prefix string) error {
	opts, err := goredis.ParseURL(st.RedisURL)
	if err != nil {
		return err
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	return DropRedisPrefix(ctx, c, prefix)
}

func cassandraSession(hosts []string) (*gocql.Session, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no hosts (PARLEY_CASSANDRA_HOSTS)")
	}
	cluster := gocql.NewCluster(hosts...)
	cluster.Timeout = 60 * time.Second // schema changes are slow on a busy single node
	cluster.ConnectTimeout = 10 * time.Second
	return cluster.CreateSession()
}

func mongoOptions(uri string) *options.ClientOptions {
	return options.Client().ApplyURI(uri).SetTimeout(20 * time.Second)
}
