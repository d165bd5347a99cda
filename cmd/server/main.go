// Command server runs the Parley chat server: REST + Socket.IO + the web app on one port.
//
//	server            serve (applies pending migrations first)
//	server migrate    apply migrations to all three databases and exit
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/app"
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
	pg, mc, cs, err := app.Connect(connectCtx, cfg, log)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "migrate" {
		log.Info("migrations applied")
		pg.Close()
		cs.Close()
		return mc.Disconnect(context.Background())
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q (use no argument to serve, or `migrate`)", args[0])
	}

	if err := cfg.ResolveJWTSecret(); err != nil {
		return err
	}
	if cfg.Auth.GeneratedSecret {
		log.Warn("PARLEY_JWT_SECRET is not set: using a generated development key stored in " + cfg.DataDir +
			"/jwt-dev.key. Set PARLEY_JWT_SECRET in production.")
	}
	a, err := app.New(cfg, log, pg, mc, cs)
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
