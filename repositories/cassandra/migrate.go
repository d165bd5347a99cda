package cassandra

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed migrations/*.cql
var migrationFiles embed.FS

// Migrate applies pending migrations with golang-migrate. golang-migrate's own Cassandra driver is built on
// the older github.com/gocql/gocql, so this package supplies a small driver over the maintained v2 driver.
func Migrate(ctx context.Context, s *gocql.Session) (uint, error) {
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return 0, err
	}
	drv, err := newMigrationDriver(ctx, s)
	if err != nil {
		return 0, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "cassandra", drv)
	if err != nil {
		return 0, fmt.Errorf("cassandra: migrate: %w", err)
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("cassandra: migrate up: %w", err)
	}
	v, _, err := m.Version()
	return v, err
}

// migrationDriver implements golang-migrate's database.Driver. Version bookkeeping is one row.
type migrationDriver struct {
	ctx context.Context
	s   *gocql.Session
}

func newMigrationDriver(ctx context.Context, s *gocql.Session) (*migrationDriver, error) {
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS schema_migrations (id int PRIMARY KEY, version bigint, dirty boolean)",
	} {
		if err := s.Query(stmt).ExecContext(ctx); err != nil {
			return nil, fmt.Errorf("cassandra: migration tables: %w", err)
		}
	}
	return &migrationDriver{ctx: ctx, s: s}, nil
}

func (d *migrationDriver) Open(string) (database.Driver, error) {
	return nil, errors.New("cassandra migration driver: use Migrate")
}

func (d *migrationDriver) Close() error { return nil } // the session belongs to the caller

// Lock is a no-op. A lightweight-transaction lock timed out on a freshly started single node (CAS write
// timeouts while Paxos state is cold), so instead every migration is written to be idempotent
// (IF NOT EXISTS / IF EXISTS): two servers migrating at once both succeed.
func (d *migrationDriver) Lock() error { return nil }

func (d *migrationDriver) Unlock() error { return nil }

func (d *migrationDriver) Run(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, stmt := range splitStatements(string(b)) {
		if err := d.s.Query(stmt).ExecContext(d.ctx); err != nil {
			return fmt.Errorf("cassandra: running %q: %w", firstLine(stmt), err)
		}
	}
	return nil
}

func (d *migrationDriver) SetVersion(version int, dirty bool) error {
	if version < 0 { // NilVersion: nothing applied
		return d.s.Query("DELETE FROM schema_migrations WHERE id = 0").ExecContext(d.ctx)
	}
	return d.s.Query("INSERT INTO schema_migrations (id, version, dirty) VALUES (0, ?, ?)", int64(version), dirty).ExecContext(d.ctx)
}

func (d *migrationDriver) Version() (int, bool, error) {
	var v int64
	var dirty bool
	err := d.s.Query("SELECT version, dirty FROM schema_migrations WHERE id = 0").ScanContext(d.ctx, &v, &dirty)
	if errors.Is(err, gocql.ErrNotFound) {
		return database.NilVersion, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return int(v), dirty, nil
}

func (d *migrationDriver) Drop() error {
	for _, t := range []string{"messages", "message_nonces", "schema_migrations"} {
		if err := d.s.Query("DROP TABLE IF EXISTS " + t).ExecContext(d.ctx); err != nil {
			return err
		}
	}
	return nil
}

// splitStatements splits a CQL file on semicolons at line ends, dropping comments and blank statements.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") || strings.HasPrefix(trimmed, "//") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
