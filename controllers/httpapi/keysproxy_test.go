package httpapi_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/controllers/keysapi"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/keystore"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

// The chat server forwards /keys/… to a real key service: the caller's token authenticates there, the request
// id is the one the chat server logged, cookies stay behind, and the key service's answers come back as they are.
func TestKeysProxyForwardsToTheKeyService(t *testing.T) {
	t.Parallel()
	pgURL := testenv.PostgresURL(t)
	if _, err := keystore.Migrate(pgURL); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	secret := strings.Repeat("k", 40)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := auth.NewTokenIssuer([]byte(secret), "parley", "parley-api", 15*60*1e9)
	api := keysapi.New(keys.New(keystore.New(db), nil, keys.DefaultPolicy, log), keys.NewAuthenticator(tokens, keystore.NewSessions(db)), nil, log)
	var mu sync.Mutex
	var seen []*http.Request
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(ks.Close)

	s := testserver.Start(t, testserver.Options{PGURL: pgURL, Env: map[string]string{"PARLEY_JWT_SECRET": secret, "PARLEY_KEYS_URL": ks.URL}})
	alice := s.Register(t, "kp_alice")

	req, _ := http.NewRequest(http.MethodPost, s.URL+"/keys/v1/devices",
		strings.NewReader(`{"name":"laptop","signatureKey":"`+base64.StdEncoding.EncodeToString(make([]byte, 32))+`"}`))
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "parley_refresh=secret-refresh-token")
	req.Header.Set("X-Request-Id", "proxy-test-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"name":"laptop"`) {
		t.Fatalf("register through the proxy: %d %s", res.StatusCode, body)
	}
	if got := res.Header.Get("X-Request-Id"); got != "proxy-test-1" {
		t.Errorf("answer's request id %q, want the chat server's proxy-test-1", got)
	}
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	if first.URL.Path != "/v1/devices" {
		t.Errorf("the key service saw path %q, want /v1/devices", first.URL.Path)
	}
	if first.Header.Get("Cookie") != "" {
		t.Errorf("the session cookie was forwarded: %q", first.Header.Get("Cookie"))
	}
	if first.Header.Get("X-Request-Id") != "proxy-test-1" {
		t.Errorf("the key service saw request id %q", first.Header.Get("X-Request-Id"))
	}

	// Its list, and its own refusals, pass through unchanged.
	if r := s.Do(t, http.MethodGet, "/keys/v1/devices", alice.AccessToken, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "laptop") {
		t.Fatalf("list through the proxy: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, http.MethodGet, "/keys/v1/devices", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s, want the key service's 401", r.Status, r.Body)
	}
	if r := s.Do(t, http.MethodDelete, "/keys/v1/devices/123", alice.AccessToken, nil); r.Status != http.StatusNotFound {
		t.Fatalf("someone else's device: %d %s, want 404", r.Status, r.Body)
	}
	// Only the key service's paths: the chat server's API is not reachable through it.
	if r := s.Do(t, http.MethodGet, "/keys/api/users/me", alice.AccessToken, nil); r.Status != http.StatusNotFound {
		t.Fatalf("/keys/api/users/me: %d %s, want the key service's 404", r.Status, r.Body)
	}
}

func TestKeysProxyOffAndUnreachable(t *testing.T) {
	t.Parallel()
	off := testserver.Start(t, testserver.Options{})
	r := off.Do(t, http.MethodGet, "/keys/v1/devices", "", nil)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" || !strings.Contains(string(r.Body), "PARLEY_KEYS_URL") {
		t.Fatalf("proxy off: %d %s, want 503 unavailable naming PARLEY_KEYS_URL", r.Status, r.Body)
	}

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	down := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_KEYS_URL": dead}})
	r = down.Do(t, http.MethodPost, "/keys/v1/devices", "", `{}`)
	if r.Status != http.StatusBadGateway || r.ErrorCode() != "unavailable" || !strings.Contains(string(r.Body), `"requestId"`) {
		t.Fatalf("key service down: %d %s, want 502 unavailable with a request id", r.Status, r.Body)
	}
}
