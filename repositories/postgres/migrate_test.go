package postgres_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/postgres"
)

func TestMigrateIsIdempotentAndCreatesTables(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresURL(t)
	v, err := postgres.Migrate(dsn) // already migrated through the template: a no-op
	if err != nil || v < 1 {
		t.Fatalf("Migrate = %d, %v", v, err)
	}
	pool, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, table := range []string{"users", "sessions", "refresh_tokens", "servers", "server_members", "channels", "dm_participants", "invites"} {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if _, err := postgres.Migrate("::not a url"); err == nil {
		t.Fatal("Migrate accepted a bad URL")
	}
}
