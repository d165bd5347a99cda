// Command server runs the Parley chat server: REST + Socket.IO + the web app on one port.
//
//	server            serve (applies pending migrations first)
//	server migrate    apply migrations to all three databases and exit
//	server reindex [-since 24h]   write the messages of the last 24 hours (or all) from Cassandra to the search index
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/parleychat/parley/cmd/server/app"
	"github.com/parleychat/parley/internal/config"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	connectCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tel, err := app.NewTelemetry(cfg)
	if err != nil {
		return err
	}
	pg, mc, cs, err := app.Connect(connectCtx, cfg, log, tel)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "migrate" {
		log.Info("migrations applied")
		pg.Close()
		cs.Close()
		return mc.Disconnect(context.Background())
	}
	if len(args) > 0 && args[0] == "reindex" {
		return reindex(ctx, cfg, log, pg, mc, cs, args[1:])
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q (use no argument to serve, `migrate` or `reindex`)", args[0])
	}

	if err := cfg.ResolveJWTSecret(); err != nil {
		return err
	}
	if cfg.Auth.GeneratedSecret {
		log.Warn("PARLEY_JWT_SECRET is not set: using a generated development key stored in " + cfg.DataDir +
			"/jwt-dev.key. Set PARLEY_JWT_SECRET in production.")
	}
	a, err := app.New(cfg, log, tel, pg, mc, cs)
	if err != nil {
		return err
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		a.Close()
		return err
	}
	return a.Serve(ctx, ln)
}

// reindex runs App.Reindex once (no listener), e.g. after a crash that lost queued index changes.
func reindex(ctx context.Context, cfg config.Config, log *slog.Logger, pg *pgxpool.Pool, mc *mongodrv.Client, cs *gocql.Session, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	since := fs.Duration("since", 0, "only messages newer than this (e.g. 24h); 0 = all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.ResolveJWTSecret(); err != nil {
		return err
	}
	a, err := app.New(cfg, log, app.Telemetry{}, pg, mc, cs) // a one-off run: its metrics are not served
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	n, err := a.Reindex(ctx, *since)
	log.Info("reindex finished", "rows", n, "seconds", time.Since(start).Seconds(), "err", err)
	return err
}

// servePprof exposes runtime profiles on their own listener, never on the public port.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	log.Warn("pprof enabled", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof listener stopped", "err", err)
	}
}
