// Command keys runs the key service of end-to-end encrypted conversations (issue #19): key packages, the
// ordered MLS handshake log, Welcomes and the rotation policy, on its own port and storage, deployable and
// scaled apart from the chat server (it is stateless: every instance can serve every request).
//
//	keys            serve (applies pending migrations first)
//	keys migrate    apply migrations and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parleychat/parley/controllers/keysapi"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/repositories/keystore"
	"github.com/parleychat/parley/repositories/postgres"
	redisstore "github.com/parleychat/parley/repositories/redis"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func env(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	for _, v := range config.KeysVars {
		if v.Name == name && !strings.HasPrefix(v.Default, "(") {
			return v.Default
		}
	}
	return ""
}

func policy() (keys.Policy, error) {
	p := keys.DefaultPolicy
	var errs []error
	dur := func(name string, dst *time.Duration) {
		d, err := time.ParseDuration(env(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration", name))
			return
		}
		*dst = d
	}
	num := func(name string, dst *int64) {
		n, err := strconv.ParseInt(env(name), 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s must be a positive integer", name))
			return
		}
		*dst = n
	}
	dur("PARLEY_KEYS_ROTATE_AFTER", &p.MaxAge)
	dur("PARLEY_KEYS_ROTATE_GRACE", &p.Grace)
	num("PARLEY_KEYS_ROTATE_MESSAGES", &p.MaxMessages)
	num("PARLEY_KEYS_ROTATE_GRACE_MESSAGES", &p.GraceMessages)
	dur("PARLEY_KEYS_CLAIM_EVERY", &p.ClaimEvery)
	var burst int64
	num("PARLEY_KEYS_CLAIM_BURST", &burst)
	p.ClaimBurst = int(min(burst, 1_000_000))
	return p, errors.Join(errs...)
}

// sweepEvery is how often this replica sweeps for rotations due by age.
func sweepEvery() (time.Duration, error) {
	d, err := time.ParseDuration(env("PARLEY_KEYS_SWEEP_EVERY"))
	if err != nil || d <= 0 {
		return 0, errors.New("PARLEY_KEYS_SWEEP_EVERY must be a positive duration")
	}
	return d, nil
}

func run(args []string) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	pol, err := policy()
	sweep, serr := sweepEvery()
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", "keys")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	keysURL := env("PARLEY_KEYS_POSTGRES_URL")
	if keysURL == "" {
		keysURL = cfg.PostgresURL
	}
	v, err := keystore.Migrate(keysURL)
	if err != nil {
		return err
	}
	log.Info("key store ready", "schema_version", v)
	if len(args) > 0 && args[0] == "migrate" {
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q (use no argument to serve, or `migrate`)", args[0])
	}
	if err := cfg.ResolveJWTSecret(); err != nil {
		return err
	}
	// Metrics: REST requests and database calls by operation, Go runtime and process, labelled with the node id.
	m := metrics.NewBase(cfg.NodeID)
	keysDB, err := postgres.OpenObserved(ctx, keysURL, m)
	if err != nil {
		return err
	}
	defer keysDB.Close()
	chatDB := keysDB
	if keysURL != cfg.PostgresURL {
		if chatDB, err = postgres.OpenObserved(ctx, cfg.PostgresURL, m); err != nil {
			return err
		}
		defer chatDB.Close()
	}

	tokens := auth.NewTokenIssuer(cfg.Auth.JWTSecret, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.Auth.AccessTTL)
	var notify keys.Notifier // nil: clients find changes by polling
	var opts []keys.Option
	if cfg.KeysRedisURL != "" {
		// Notices to the chat servers, which tell the users' browsers to sync at once (else they poll).
		rc, err := redisstore.Connect(ctx, cfg.KeysRedisURL)
		if err != nil {
			return fmt.Errorf("PARLEY_KEYS_REDIS_URL: %w", err)
		}
		defer rc.Close()
		notify = redisstore.NewKeyNotices(rc, cfg.Cluster.RedisPrefix)
		log.Info("key notices on", "channel", cfg.Cluster.RedisPrefix+":keys:notices")
		// One claim budget per user across the replicas (else each replica would grant its own burst).
		opts = append(opts, keys.ShareClaimBudget(redisstore.NewRateLimiter(rc, cfg.Cluster.RedisPrefix, pol.ClaimEvery, pol.ClaimBurst)))
	}
	svc := keys.New(keystore.New(keysDB), notify, pol, log, opts...)
	if notify != nil {
		// Age has no event of its own: every replica sweeps, and the database gives each due group epoch to one.
		go svc.RunSweeper(ctx, sweep)
	}
	origins := cfg.AllowedOrigins
	if o := env("PARLEY_KEYS_ALLOWED_ORIGINS"); o != "" {
		origins = strings.Split(o, ",")
	}
	handler := keysapi.New(svc, keys.NewAuthenticator(tokens, keystore.NewSessions(chatDB)), origins, log)
	metricsAddr := env("PARLEY_KEYS_METRICS_ADDR")
	if metricsAddr == "" {
		handler = keysapi.Instrument(handler, m, m.Handler())
	} else {
		handler = keysapi.Instrument(handler, m, nil)
	}
	if metricsAddr != "" && metricsAddr != "off" {
		// A private address for the scraper, apart from the port browsers reach.
		mln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("PARLEY_KEYS_METRICS_ADDR: %w", err)
		}
		msrv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("key service metrics listening", "addr", mln.Addr().String())
	}

	ln, err := net.Listen("tcp", env("PARLEY_KEYS_ADDR"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
	log.Info("key service listening", "addr", ln.Addr().String(), "rotate_after", pol.MaxAge, "rotate_messages", pol.MaxMessages)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
