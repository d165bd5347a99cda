// Package testenv gives integration tests isolated slices of the real local databases started by
// `make test` (scripts/stack.sh): a fresh Postgres database, Cassandra keyspace or MongoDB database per test,
// migrated and dropped afterwards, so packages and tests can run in parallel.
//
// Connection settings come from the environment, else from .local/stack.env. When a database is not running
// the test fails if PARLEY_REQUIRE_STACK=1 or CI=true (as under `make test`), and is skipped otherwise.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/testenv/slice"
	"github.com/parleychat/parley/repositories/cassandra"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/repositories/objectstore/s3"
	"github.com/parleychat/parley/repositories/postgres"
	redisrepo "github.com/parleychat/parley/repositories/redis"
)

var stackEnv = sync.OnceValue(func() map[string]string {
	env := map[string]string{}
	dir, _ := os.Getwd()
	for i := 0; i < 6 && dir != "/"; i++ {
		f, err := os.Open(filepath.Join(dir, ".local", "stack.env"))
		if err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), "="); ok {
					env[k] = v
				}
			}
			f.Close()
			break
		}
		dir = filepath.Dir(dir)
	}
	for _, k := range []string{"PARLEY_POSTGRES_URL", "PARLEY_MONGO_URI", "PARLEY_CASSANDRA_HOSTS", "PARLEY_REDIS_URL", "PARLEY_SEARCH_URLS",
		"PARLEY_S3_ENDPOINT", "PARLEY_S3_ACCESS_KEY", "PARLEY_S3_SECRET_KEY"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	return env
})

// Get returns a stack setting with a local default.
func Get(key string) string {
	if v := stackEnv()[key]; v != "" {
		return v
	}
	// S3 is optional for the server (no default there); the local stack always runs versitygw.
	if v, ok := map[string]string{
		"PARLEY_S3_ENDPOINT":   "http://127.0.0.1:57070",
		"PARLEY_S3_ACCESS_KEY": "parley-local",
		"PARLEY_S3_SECRET_KEY": "parley-local-secret",
	}[key]; ok {
		return v
	}
	return config.Default(key)
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("PARLEY_REQUIRE_STACK") == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("%s is not available (run `make test`, which starts the local stack): %v", what, err)
	}
	t.Skipf("%s is not available; start the stack with scripts/stack.sh up: %v", what, err)
}

// UniqueName returns a lowercase identifier safe for database and keyspace names.
func UniqueName(prefix string) string { return slice.NewName(prefix) }

// template migrates one Postgres template database per test process; each test copies it (fast).
var pgTemplate struct {
	once sync.Once
	name string
	err  error
}

// PostgresURL creates a fresh, migrated database and returns its URL; it is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := Get("PARLEY_POSTGRES_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	defer admin.Close(context.Background())
	pgTemplate.once.Do(func() {
		name := UniqueName("tmpl")
		if err := slice.CreatePostgres(ctx, admin, name, ""); err != nil {
			pgTemplate.err = err
			return
		}
		if _, err := postgres.Migrate(withDB(base, name)); err != nil {
			pgTemplate.err = err
			return
		}
		pgTemplate.name = name
	})
	if pgTemplate.err != nil {
		t.Fatalf("preparing the Postgres template: %v", pgTemplate.err)
	}
	name := UniqueName("test")
	if err := slice.CreatePostgres(ctx, admin, name, pgTemplate.name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_ = slice.DropPostgres(ctx, c, name)
	})
	return withDB(base, name)
}

// Main runs a test binary's tests, then drops what its tests shared (the Postgres template database and the
// Cassandra keyspace, made once per process) and exits with the tests' code. A package whose tests use
// PostgresURL, Postgres or SharedCassandra calls it from TestMain: without it every test process left both
// behind (on a development machine after a week: 663 databases, 500 keyspaces, and Cassandra's heap holding the
// metrics of 1,000 tables, 650 MB live after GC instead of 200).
func Main(m *testing.M) {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
	defer cancel()
	if pgTemplate.name != "" {
		if c, err := pgx.Connect(ctx, Get("PARLEY_POSTGRES_URL")); err == nil {
			_ = slice.DropPostgres(ctx, c, pgTemplate.name)
			_ = c.Close(ctx)
		}
	}
	if sharedCass.s != nil {
		_ = slice.DropKeyspace(ctx, sharedCass.s, sharedCass.cfg.Keyspace)
		sharedCass.s.Close()
	}
	os.Exit(code)
}

// Postgres returns a pool on a fresh, migrated database.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(context.Background(), PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func withDB(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

// CassandraConfig returns the settings for a fresh keyspace (created by cassandra.Connect).
func CassandraConfig(t testing.TB) cassandra.Config {
	return cassandra.Config{
		Hosts:       strings.Split(Get("PARLEY_CASSANDRA_HOSTS"), ","),
		Keyspace:    UniqueName("test"),
		Replication: config.Default("PARLEY_CASSANDRA_REPLICATION"),
		Consistency: config.Default("PARLEY_CASSANDRA_CONSISTENCY"),
		Timeout:     10 * time.Second,
	}
}

// Cassandra returns a session on a fresh, migrated keyspace; the keyspace is dropped when the test ends.
func Cassandra(t testing.TB) *gocql.Session {
	t.Helper()
	cfg := CassandraConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	s, err := cassandra.Connect(ctx, cfg)
	if err != nil {
		unavailable(t, "Cassandra", err)
	}
	if _, err := cassandra.Migrate(ctx, s); err != nil {
		s.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
		defer cancel()
		_ = slice.DropKeyspace(ctx, s, cfg.Keyspace)
		s.Close()
	})
	return s
}

// MongoURI is the MongoDB (FerretDB locally) URI.
func MongoURI() string { return Get("PARLEY_MONGO_URI") }

// Mongo returns a fresh, migrated database; it is dropped when the test ends.
func Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := mongorepo.Connect(ctx, MongoURI())
	if err != nil {
		unavailable(t, "MongoDB (FerretDB)", err)
	}
	db := client.Database(UniqueName("test"))
	if _, err := mongorepo.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = slice.DropMongo(ctx, client, db.Name())
		_ = client.Disconnect(ctx)
	})
	return db
}

// DropMongoAtEnd drops a MongoDB database of the local stack when the test ends (after cleanups registered
// later, such as stopping a server that uses it). Kept databases pile up in FerretDB and slow it down.
func DropMongoAtEnd(t testing.TB, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := mongorepo.Connect(ctx, MongoURI())
		if err != nil {
			return
		}
		_ = slice.DropMongo(ctx, client, name)
		_ = client.Disconnect(ctx)
	})
}

var sharedCass struct {
	once sync.Once
	cfg  cassandra.Config
	s    *gocql.Session
	err  error
}

// SharedCassandra returns one migrated keyspace per test process. Schema changes are slow in Cassandra, so
// tests share it and isolate their data by ids (every channel id is unique). Main drops it when the process's
// tests are done (a killed process leaves it for `make clean-data`); its name starts with test_.
func SharedCassandra(t testing.TB) (*gocql.Session, cassandra.Config) {
	t.Helper()
	sharedCass.once.Do(func() {
		cfg := CassandraConfig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		s, err := cassandra.Connect(ctx, cfg)
		if err != nil {
			sharedCass.err = err
			return
		}
		if _, err := cassandra.Migrate(ctx, s); err != nil {
			s.Close()
			sharedCass.err = err
			return
		}
		sharedCass.cfg, sharedCass.s = cfg, s
	})
	if sharedCass.err != nil {
		unavailable(t, "Cassandra", sharedCass.err)
	}
	return sharedCass.s, sharedCass.cfg
}

// SearchURL returns the local OpenSearch's URL after checking that it answers.
func SearchURL(t testing.TB) string {
	t.Helper()
	url := Get("PARLEY_SEARCH_URLS")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_cluster/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("cluster health answered %d", resp.StatusCode)
		}
	}
	if err != nil {
		unavailable(t, "OpenSearch", err)
	}
	return url
}

// RedisURL returns the local Redis's URL after checking that it answers.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := Get("PARLEY_REDIS_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisrepo.Connect(ctx, url)
	if err != nil {
		unavailable(t, "redis", err)
	}
	_ = c.Close()
	return url
}

// Redis returns a client of the local Redis and a key prefix of the test's own; its keys are deleted when the
// test ends.
func Redis(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	url := RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisrepo.Connect(ctx, url)
	if err != nil {
		unavailable(t, "redis", err)
	}
	prefix := UniqueName("t")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = slice.DropRedisPrefix(ctx, c, prefix)
		_ = c.Close()
	})
	return c, prefix
}

// S3Bucket is the bucket tests share on the stack's S3 server; each test keeps to its own key prefix.
const S3Bucket = "parley-test"

// S3Config names the stack's S3 server (versitygw) and the test bucket.
func S3Config(t testing.TB) s3.Config {
	t.Helper()
	return s3.Config{Endpoint: Get("PARLEY_S3_ENDPOINT"), AccessKey: Get("PARLEY_S3_ACCESS_KEY"),
		SecretKey: Get("PARLEY_S3_SECRET_KEY"), Bucket: S3Bucket, Region: "us-east-1"}
}

// S3 opens the test bucket on the stack's S3 server (creating it), or skips/fails like the databases do.
func S3(t testing.TB) *s3.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := s3.Open(ctx, S3Config(t))
	if err != nil {
		unavailable(t, "the S3 server (versitygw)", err)
	}
	return st
}
