package testserver

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/controllers/keysapi"
	"github.com/parleychat/parley/repositories/keystore"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

// KeyService builds the key service (cmd/keys' HTTP API) for tests that run it beside this server in one process:
// on the server's Postgres database (its schema keys, migrated here), trusting the server's access tokens. notify
// may be nil (no notices). It returns the handler and the pool it uses (closed when the test ends).
func (s *Server) KeyService(t testing.TB, policy keys.Policy, notify keys.Notifier) (http.Handler, *pgxpool.Pool) {
	t.Helper()
	if _, err := keystore.Migrate(s.Config.PostgresURL); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(context.Background(), s.Config.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := auth.NewTokenIssuer(s.Config.Auth.JWTSecret, s.Config.Auth.Issuer, s.Config.Auth.Audience, s.Config.Auth.AccessTTL)
	return keysapi.New(keys.New(keystore.New(db), notify, policy, log), keys.NewAuthenticator(tokens, keystore.NewSessions(db)), nil, log), db
}
