package slice_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/slice"
)

func TestNames(t *testing.T) {
	name := slice.NewName("parley_e2e")
	if !slice.IsGenerated(name) || !slice.IsRedisPrefixOfSlice(name) || !slice.IsRedisPrefixOfSlice(name+"-cluster3") {
		t.Fatalf("%q is not recognised as a slice name", name)
	}
	for _, bad := range []string{"parley", "parley_e2e", "test_0123456789ab", "parley_e2e_0123456789ab; DROP", name + "x"} {
		if slice.IsGenerated(bad) {
			t.Errorf("IsGenerated(%q) = true", bad)
		}
	}
	for _, bad := range []string{"parley", name + "*", name + ":x", "x" + name} {
		if slice.IsRedisPrefixOfSlice(bad) {
			t.Errorf("IsRedisPrefixOfSlice(%q) = true", bad)
		}
	}
	if _, err := slice.Env(slice.Stack{PostgresURL: "postgres://h/db"}, "Bad-Name"); err == nil {
		t.Error("Env accepted a name that is not an identifier")
	}
	if err := slice.DropSearchIndex(context.Background(), "http://127.0.0.1:1", "a b"); err == nil {
		t.Error("DropSearchIndex accepted a name with a space")
	}
}

// A slice made by Create, filled in every store as the server would, is gone after Drop; Drop twice is fine.
func TestCreateDrop(t *testing.T) {
	testenv.Postgres(t) // skips or fails like every integration test when the stack is down
	st := slice.StackFromEnv(testenv.Get)
	st.SearchURL, st.RedisURL = testenv.SearchURL(t), testenv.RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := slice.NewName("parley_slicetest")
	env, err := slice.Create(ctx, st, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slice.Drop(context.Background(), st, name) }) // when a check below fails
	for _, k := range []string{"PARLEY_MONGO_DATABASE", "PARLEY_CASSANDRA_KEYSPACE", "PARLEY_SEARCH_INDEX", "PARLEY_REDIS_PREFIX", "PARLEY_SLICE"} {
		if env[k] != name {
			t.Errorf("%s = %q, want %q", k, env[k], name)
		}
	}

	pg, err := pgx.Connect(ctx, env["PARLEY_POSTGRES_URL"])
	if err != nil {
		t.Fatalf("the slice's Postgres database: %v", err)
	}
	if _, err := pg.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	pg.Close(ctx) // Drop disconnects sessions anyway (WITH (FORCE))

	mc, err := mongo.Connect(options.Client().ApplyURI(st.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	if _, err := mc.Database(name).Collection("c").InsertOne(ctx, bson.M{"x": 1}); err != nil {
		t.Fatal(err)
	}

	cluster := gocql.NewCluster(st.CassandraHosts...)
	cluster.Timeout = 60 * time.Second
	cs, err := cluster.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.Query("CREATE KEYSPACE " + name + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").ExecContext(ctx); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, st.SearchURL+"/"+name+"-v1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("creating index: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	opts, _ := goredis.ParseURL(st.RedisURL)
	rc := goredis.NewClient(opts)
	defer rc.Close()
	other := slice.NewName("parley_slicetest")
	for _, k := range []string{name + ":a", name + ":b:c", other + ":a"} {
		if err := rc.Set(ctx, k, "1", 0).Err(); err != nil { // no TTL: dropping a keyspace can take minutes on a busy node
			t.Fatal(err)
		}
	}
	defer rc.Del(context.Background(), other+":a")

	if err := slice.Drop(ctx, st, name); err != nil {
		t.Fatal(err)
	}
	if err := slice.Drop(ctx, st, name); err != nil {
		t.Errorf("dropping a dropped slice: %v", err)
	}

	admin, err := pgx.Connect(ctx, st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Errorf("Postgres database still there (%d, %v)", n, err)
	}
	dbs, err := mc.ListDatabaseNames(ctx, bson.D{})
	if err != nil || slices.Contains(dbs, name) {
		t.Errorf("Mongo database still there (%v)", err)
	}
	var ks string
	if err := cs.Query("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", name).ScanContext(ctx, &ks); err != gocql.ErrNotFound {
		t.Errorf("keyspace still there (%q, %v)", ks, err)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodHead, st.SearchURL+"/"+name+"-v1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("index still there: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	keys, err := rc.Keys(ctx, name+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("Redis keys left: %v %v", keys, err)
	}
	if v, err := rc.Get(ctx, other+":a").Result(); err != nil || v != "1" {
		t.Errorf("another slice's key was deleted: %q %v", v, err)
	}
	if !strings.Contains(env["PARLEY_POSTGRES_URL"], "/"+name+"?") {
		t.Errorf("slice URL %q does not name the slice's database", env["PARLEY_POSTGRES_URL"])
	}
}
