// Command slice creates and drops an isolated slice of the local stack for one end-to-end or benchmark run
// (internal/testenv/slice: a Postgres database, a MongoDB database, a Cassandra keyspace, an OpenSearch index and
// a Redis key prefix, all named after the slice). Connection settings come from the environment, as for the
// server (PARLEY_POSTGRES_URL, PARLEY_MONGO_URI, PARLEY_CASSANDRA_HOSTS, PARLEY_SEARCH_URLS, PARLEY_REDIS_URL).
//
//	slice create PREFIX      create a slice named PREFIX_<random>; print the server's settings for it as
//	                         KEY=VALUE lines (PARLEY_SLICE is its name)
//	slice drop NAME          drop everything of slice NAME
//	slice drop-redis PREFIX  delete the Redis keys under PREFIX, which must start with a slice's name
//
// PREFIX must start with parley_ (parley_e2e, parley_bench) and only names made by create are dropped, so the
// command can never drop the application's own data.
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/parleychat/parley/internal/testenv/slice"
)

var prefixRE = regexp.MustCompile(`^parley_[a-z0-9_]{1,20}$`)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "slice:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: slice create PREFIX | slice drop NAME | slice drop-redis PREFIX")
	}
	st := slice.StackFromEnv(os.Getenv)
	if st.PostgresURL == "" || st.MongoURI == "" || len(st.CassandraHosts) == 0 {
		return fmt.Errorf("PARLEY_POSTGRES_URL, PARLEY_MONGO_URI and PARLEY_CASSANDRA_HOSTS must be set (source .local/stack.env)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch cmd, arg := args[0], args[1]; cmd {
	case "create":
		if !prefixRE.MatchString(arg) {
			return fmt.Errorf("prefix %q must be parley_ and up to 20 lower-case letters, digits or _", arg)
		}
		env, err := slice.Create(ctx, st, slice.NewName(arg))
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("%s=%s\n", k, env[k])
		}
		return nil
	case "drop":
		if !slice.IsGenerated(arg) {
			return fmt.Errorf("refusing to drop %q: not a name made by slice create", arg)
		}
		if err := slice.Drop(ctx, st, arg); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "slice: dropped", arg)
		return nil
	case "drop-redis":
		if !slice.IsRedisPrefixOfSlice(arg) {
			return fmt.Errorf("refusing to delete keys under %q: it does not start with a name made by slice create", arg)
		}
		if st.RedisURL == "" {
			return fmt.Errorf("PARLEY_REDIS_URL is not set")
		}
		return slice.DropRedis(ctx, st, arg)
	default:
		return fmt.Errorf("unknown command %q (create, drop, drop-redis)", cmd)
	}
}
