// Package postgres stores the relational data (users, sessions, servers, memberships, channels, invites) in
// PostgreSQL through pgx, and owns its schema migrations.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// migration driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Open connects a pool and checks that the database answers.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) { return OpenObserved(ctx, dsn, nil) }

// OpenObserved is Open with every query reported to obs (nil: none).
func OpenObserved(ctx context.Context, dsn string, obs Observer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parsing URL: %w", err)
	}
	if obs != nil {
		cfg.ConnConfig.Tracer = tracer{obs}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return pool, nil
}

// Migrate applies every pending migration (golang-migrate, with a Postgres advisory lock so concurrent
// server starts are safe). It returns the schema version.
func Migrate(dsn string) (uint, error) { return MigrateFS(dsn, migrationFiles, "") }

// MigrateFS applies the migrations under "migrations" in files, recording the version in table ("" for
// golang-migrate's default): the key service keeps its own table so both can share one database.
func MigrateFS(dsn string, files fs.FS, table string) (uint, error) {
	src, err := iofs.New(files, "migrations")
	if err != nil {
		return 0, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return 0, fmt.Errorf("postgres: parsing URL: %w", err)
	}
	u.Scheme = "pgx5"
	if table != "" {
		q := u.Query()
		q.Set("x-migrations-table", table)
		u.RawQuery = q.Encode()
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("postgres: migrate up: %w", err)
	}
	v, _, err := m.Version()
	return v, err
}

// isUniqueViolation reports a unique-constraint error and the constraint's name.
func isUniqueViolation(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName, true
	}
	return "", false
}
