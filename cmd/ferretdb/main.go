// Command ferretdb runs FerretDB v1 (a MongoDB wire-protocol server) embedded, on the local PostgreSQL.
//
// No mongod can be installed on the dev/CI machines and a plain build of FerretDB's own cmd/ferretdb
// panics (its build/version/version.txt is not in the module zip), so we embed the library instead.
// It lives in its own Go module so FerretDB's ~60 dependencies stay out of the server's go.mod.
//
//	ferretdb -listen 127.0.0.1:57017 -postgresql-url "postgres://postgres@127.0.0.1:55432/ferretdb?sslmode=disable"
//	ferretdb -ping mongodb://127.0.0.1:57017/   # readiness probe: exit 0 when ready, 1 otherwise
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:57017", "TCP address to serve the MongoDB wire protocol on")
	pgURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:55432/ferretdb?sslmode=disable", "PostgreSQL database that stores the data (must exist)")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	ping := flag.String("ping", "", "probe this MongoDB URI instead of serving; exit 0 if it answers")
	flag.Parse()

	if *ping != "" {
		if err := probe(*ping); err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb ping:", err)
			os.Exit(1)
		}
		return
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(2)
	}
	// Error level by default: FerretDB logs a ~20-line dump for every failed command, which
	// (duplicate keys in tests, for example) would otherwise swamp the log.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Embedded FerretDB never starts its telemetry reporter and New also marks telemetry disabled and
	// locked, so nothing is sent anywhere.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		logger.Error("ferretdb: start failed", "err", err)
		os.Exit(1)
	}

	done := make(chan struct{})
	go func() {
		// Run returns once ctx is canceled and all listeners, client connections and the
		// Postgres pool are closed: that is the clean shutdown.
		_ = f.Run(ctx)
		close(done)
	}()
	// MongoDBURI may only be called once Run has started (it waits for the listener). Printed on
	// stdout, whatever the log level, so the log file shows where it listens.
	fmt.Printf("ferretdb: listening on %s (postgresql backend)\n", f.MongoDBURI())

	<-done
	fmt.Println("ferretdb: stopped")
}

// probe connects to uri and runs real commands: ping (FerretDB checks its Postgres backend for it) and a find
// (a query against Postgres), so "ready" means a client can actually work. Not listDatabases: FerretDB sums
// the size of every table for it, which takes seconds once a development machine has kept a few thousand
// test databases, and a dozen probes at once then starve the server.
func probe(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	opts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(2 * time.Second).SetConnectTimeout(2 * time.Second)
	if err := opts.Validate(); err != nil {
		return err
	} else if len(opts.Hosts) == 0 {
		return fmt.Errorf("no host in %q", uri)
	}
	// A refused TCP connection fails at once here; the driver would retry it until the selection timeout,
	// which makes every probe against a stopped server cost 2s.
	host := opts.Hosts[0]
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "27017") // the URI left the port at MongoDB's default
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return err
	}
	conn.Close()

	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background()) //nolint:errcheck // best effort on exit

	if err := client.Ping(ctx, nil); err != nil {
		return err
	}
	err = client.Database("parley_ready").Collection("probe").FindOne(ctx, bson.D{}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	return err
}
