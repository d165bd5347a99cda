package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/auth"
)

var signingKey = []byte("0123456789abcdef0123456789abcdef")

// revocations records what the socket layer hears about revoked sessions.
type revocations struct {
	mu  sync.Mutex
	got []string // "session:reason"
	ids map[int64]string
}

func (r *revocations) SessionRevoked(sessionID, _ int64, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[int64]string{}
	}
	r.ids[sessionID] = reason
	r.got = append(r.got, reason)
}

func (r *revocations) reason(sessionID int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[sessionID]
}

func (r *revocations) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// mailbox is the mailer: it keeps every mail sent.
type mailbox struct{ ch chan model.Mail }

func (m *mailbox) Send(_ context.Context, mail model.Mail) error { m.ch <- mail; return nil }

func (m *mailbox) next(t *testing.T) model.Mail {
	t.Helper()
	select {
	case mail := <-m.ch:
		return mail
	case <-time.After(15 * time.Second):
		t.Fatal("no mail within 15 s")
		return model.Mail{}
	}
}

type env struct {
	pg      *pgxpool.Pool
	users   *postgres.UserStore
	svc     *auth.Service
	revoked *revocations
}

// newEnv builds the service on a fresh Postgres database; change adjusts the config first.
func newEnv(t *testing.T, change func(*auth.Config)) env {
	t.Helper()
	pg := testenv.Postgres(t)
	return newEnvOn(t, pg, auth.NewTokenIssuer(signingKey, "parley", "parley-app", 15*time.Minute), change)
}

func newEnvOn(t *testing.T, pg *pgxpool.Pool, tokens *auth.TokenIssuer, change func(*auth.Config)) env {
	t.Helper()
	ids, err := snowflake.New(1)
	if err != nil {
		t.Fatal(err)
	}
	rev := &revocations{}
	cfg := auth.Config{BcryptCost: bcrypt.MinCost, RefreshTTL: 24 * time.Hour, RegisterBurst: 100, LoginIPBurst: 100,
		Revocations: []auth.RevocationListener{rev}}
	if change != nil {
		change(&cfg)
	}
	users := postgres.NewUserStore(pg)
	svc, err := auth.New(users, postgres.NewSessionStore(pg), tokens, ids, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return env{pg: pg, users: users, svc: svc, revoked: rev}
}

func (e env) register(t *testing.T, name string) auth.Result {
	t.Helper()
	res, err := e.svc.Register(context.Background(), auth.RegisterInput{Username: name, Email: name + "@example.com", Password: "correct horse " + name, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("registering %s: %v", name, err)
	}
	return res
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind) {
	t.Helper()
	if !apperr.Is(err, kind) {
		t.Fatalf("%s: %v, want %s", what, err, kind)
	}
}

func TestRegisterLogsTheNewAccountIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	res, err := e.svc.Register(ctx, auth.RegisterInput{Username: "  alice ", Email: " alice@example.com ", Password: "correct horse", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.ID == 0 || res.User.Username != "alice" || res.User.Email != "alice@example.com" || res.User.DisplayName != "alice" {
		t.Fatalf("user %+v: want the trimmed username and email, the username as display name", res.User)
	}
	if res.AccessToken == "" || res.RefreshToken == "" || res.DeviceToken == "" || res.SessionID == 0 || res.Verification != nil {
		t.Fatalf("result %+v: want tokens and a session", res)
	}
	if d := time.Until(res.AccessExpiry); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("access token expires in %v, want the issuer's 15 min", d)
	}
	c, err := e.svc.Authenticate(ctx, res.AccessToken)
	if err != nil || c.UserID != res.User.ID || c.SessionID != res.SessionID {
		t.Fatalf("Authenticate: %+v %v", c, err)
	}
	if err := e.svc.CheckSession(ctx, res.SessionID); err != nil {
		t.Fatal(err)
	}
	// The account is stored: the password works for a login, the password itself is not what is stored.
	stored, err := e.users.ByLogin(ctx, "ALICE")
	if err != nil || stored.ID != res.User.ID || strings.Contains(stored.PasswordHash, "correct horse") {
		t.Fatalf("stored %+v %v", stored, err)
	}
	if _, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse", IP: "10.0.0.2"}); err != nil {
		t.Fatalf("login after registering: %v", err)
	}
}

func TestRegisterRefusesBadInputAndCreatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	long := strings.Repeat("a", 33)
	for _, c := range []struct {
		in    auth.RegisterInput
		field string
	}{
		{auth.RegisterInput{Username: "al", Email: "al@example.com", Password: "correct horse"}, "username"},
		{auth.RegisterInput{Username: long, Email: "al@example.com", Password: "correct horse"}, "username"},
		{auth.RegisterInput{Username: "al ice", Email: "al@example.com", Password: "correct horse"}, "username"},
		{auth.RegisterInput{Username: "al@ice", Email: "al@example.com", Password: "correct horse"}, "username"},
		{auth.RegisterInput{Username: "alice", Email: "not-an-email", Password: "correct horse"}, "email"},
		{auth.RegisterInput{Username: "alice", Email: "alice@localhost", Password: "correct horse"}, "email"},
		{auth.RegisterInput{Username: "alice", Email: "Alice <alice@example.com>", Password: "correct horse"}, "email"},
		{auth.RegisterInput{Username: "alice", Email: strings.Repeat("a", 250) + "@example.com", Password: "correct horse"}, "email"},
		{auth.RegisterInput{Username: "alice", Email: "alice@example.com", Password: "short"}, "password"},
		{auth.RegisterInput{Username: "alice", Email: "alice@example.com", Password: strings.Repeat("é", 129)}, "password"},
		{auth.RegisterInput{Username: "alice", Email: "alice@example.com", Password: "bad utf8 \xff\xfe"}, "password"},
	} {
		_, err := e.svc.Register(ctx, c.in)
		if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Invalid || ae.Field != c.field {
			t.Errorf("%+v: %v, want invalid_input on %q", c.in, err, c.field)
		}
	}
	if _, err := e.users.ByLogin(ctx, "alice"); err == nil {
		t.Fatal("a refused registration created an account")
	}
	// 128 characters of any script is a valid password (bcrypt alone would ignore all but 72 bytes).
	if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: "alice", Email: "alice@example.com", Password: strings.Repeat("é", 128)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: strings.Repeat("é", 127) + "e"}); !apperr.Is(err, apperr.InvalidCredentials) {
		t.Fatalf("a password differing in its last character logged in: %v", err)
	}
}

func TestDuplicateUsernameIsSaidButDuplicateEmailIsNotNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.register(t, "alice")
	_, err := e.svc.Register(ctx, auth.RegisterInput{Username: "ALICE", Email: "other@example.com", Password: "correct horse", IP: "10.0.0.9"})
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Conflict || ae.Field != "username" {
		t.Fatalf("same username in other case: %v, want a conflict on username", err)
	}
	_, err = e.svc.Register(ctx, auth.RegisterInput{Username: "alice2", Email: "Alice@Example.com", Password: "correct horse", IP: "10.0.0.9"})
	ae := apperr.As(err)
	if ae == nil || ae.Kind != apperr.Conflict || ae.Field != "" || strings.Contains(strings.ToLower(ae.Message), "email") {
		t.Fatalf("taken email: %v, want a conflict that neither names a field nor the email", err)
	}
	// Probing emails is limited per address: 5 refusals, then the address must wait (even with valid, new details).
	for i := 0; i < 4; i++ {
		if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: "probe", Email: "alice@example.com", Password: "correct horse", IP: "10.0.0.9"}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("refusal %d: %v", i+2, err)
		}
	}
	_, err = e.svc.Register(ctx, auth.RegisterInput{Username: "newbie", Email: "newbie@example.com", Password: "correct horse", IP: "10.0.0.9"})
	wantKind(t, "after 5 refusals", err, apperr.RateLimited)
	if _, err := e.users.ByLogin(ctx, "newbie"); err == nil {
		t.Fatal("a rate-limited registration created an account")
	}
	// Another address is not held back.
	if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: "newbie", Email: "newbie@example.com", Password: "correct horse", IP: "10.0.0.10"}); err != nil {
		t.Fatal(err)
	}
}

func TestRegistrationsAreRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *auth.Config) { c.RegisterBurst = 2 })
	ctx := context.Background()
	for i, name := range []string{"one", "two"} {
		if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: name, Email: name + "@example.com", Password: "correct horse", IP: "10.0.0.1"}); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	_, err := e.svc.Register(ctx, auth.RegisterInput{Username: "three", Email: "three@example.com", Password: "correct horse", IP: "10.0.0.1"})
	wantKind(t, "third registration from one address", err, apperr.RateLimited)
	if ae := apperr.As(err); ae.RetryAfter <= 0 {
		t.Fatalf("rate limit without a retry time: %+v", ae)
	}
	if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: "three", Email: "three@example.com", Password: "correct horse", IP: "10.0.0.2"}); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

func TestLoginFailuresLookTheSame(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.register(t, "alice")
	_, wrong := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "wrong password", IP: "10.0.0.1"})
	_, unknown := e.svc.Login(ctx, auth.LoginInput{Login: "nobody", Password: "wrong password", IP: "10.0.0.1"})
	if !apperr.Is(wrong, apperr.InvalidCredentials) || wrong.Error() != unknown.Error() {
		t.Fatalf("wrong password %q and unknown user %q must be the same invalid_credentials error", wrong, unknown)
	}
	// Login by username or email, any case, surrounding spaces ignored; each login is a new session.
	for _, login := range []string{"alice", " ALICE ", "alice@example.com", "Alice@Example.COM"} {
		res, err := e.svc.Login(ctx, auth.LoginInput{Login: login, Password: "correct horse alice", IP: "10.0.0.2"})
		if err != nil || res.User.ID != alice.User.ID || res.SessionID == alice.SessionID || res.DeviceToken == "" {
			t.Fatalf("login %q: %+v %v", login, res, err)
		}
	}
	// A disabled account cannot log in, and says no more than a wrong password does.
	if _, err := e.pg.Exec(ctx, "UPDATE users SET disabled_at = now() WHERE id = $1", alice.User.ID); err != nil {
		t.Fatal(err)
	}
	_, disabled := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.3"})
	if disabled == nil || disabled.Error() != wrong.Error() {
		t.Fatalf("disabled account: %v, want %v", disabled, wrong)
	}
	// ... nor refresh its sessions.
	_, err := e.svc.Refresh(ctx, alice.RefreshToken)
	wantKind(t, "refresh of a disabled account", err, apperr.Unauthorized)
}

// Strangers guessing a password are slowed down, and cannot lock the owner out of a device they used before.
func TestLoginLimitsSpareTheOwnersKnownDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.register(t, "alice")
	owner, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// One guesser's address: 5 failures, then even the right password waits.
	for i := 0; i < 5; i++ {
		_, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "guess", IP: "10.6.6.6"})
		wantKind(t, "guess", err, apperr.InvalidCredentials)
	}
	_, err = e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.6.6.6"})
	wantKind(t, "6th attempt from the guesser's address", err, apperr.RateLimited)
	// Many addresses: 10 failures on the account, then every unknown device waits...
	for i := 0; i < 5; i++ {
		_, err := e.svc.Login(ctx, auth.LoginInput{Login: "ALICE@example.com", Password: "guess", IP: "10.7.7." + string(rune('0'+i))})
		wantKind(t, "guess from another address", err, apperr.InvalidCredentials)
	}
	_, err = e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.50"})
	wantKind(t, "an unknown device after 10 failures on the account", err, apperr.RateLimited)
	// ... but the owner's device, known by its token, logs in.
	if _, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.50", Device: owner.DeviceToken}); err != nil {
		t.Fatalf("the owner's known device: %v", err)
	}
	// A device token is bound to its account: bob's token does not pass as a device of alice's.
	bob := e.register(t, "bob")
	_, err = e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.51", Device: bob.DeviceToken})
	wantKind(t, "another account's device token", err, apperr.RateLimited)
	// Unknown names are limited like accounts, so the limit does not reveal which exist.
	for i := 0; i < 5; i++ {
		_, err := e.svc.Login(ctx, auth.LoginInput{Login: "ghost", Password: "guess", IP: "10.8.8.8"})
		wantKind(t, "unknown user", err, apperr.InvalidCredentials)
	}
	_, err = e.svc.Login(ctx, auth.LoginInput{Login: "ghost", Password: "guess", IP: "10.8.8.8"})
	wantKind(t, "6th try of an unknown name", err, apperr.RateLimited)
}

func TestEveryLoginAttemptCountsPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *auth.Config) { c.LoginIPBurst = 3 })
	ctx := context.Background()
	e.register(t, "alice")
	for i := 0; i < 3; i++ {
		if _, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"}); err != nil {
			t.Fatalf("login %d: %v", i+1, err)
		}
	}
	_, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"})
	wantKind(t, "4th login from one address", err, apperr.RateLimited)
}

func TestAccessTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.register(t, "alice")
	for what, tok := range map[string]string{
		"empty":     "",
		"garbage":   "not.a.jwt",
		"tampered":  alice.AccessToken[:len(alice.AccessToken)-2] + "xx",
		"refresh":   alice.RefreshToken,
		"device":    alice.DeviceToken,
		"other key": mustIssue(t, auth.NewTokenIssuer([]byte("another key, another server......"), "parley", "parley-app", time.Minute), alice.User.ID, alice.SessionID),
		"other aud": mustIssue(t, auth.NewTokenIssuer(signingKey, "parley", "keys", time.Minute), alice.User.ID, alice.SessionID),
		"other iss": mustIssue(t, auth.NewTokenIssuer(signingKey, "evil", "parley-app", time.Minute), alice.User.ID, alice.SessionID),
		"no user":   mustIssue(t, auth.NewTokenIssuer(signingKey, "parley", "parley-app", time.Minute), 0, alice.SessionID),
	} {
		_, err := e.svc.Authenticate(ctx, tok)
		wantKind(t, what, err, apperr.Unauthorized)
	}
	// An expired token says so (the client refreshes), rather than "invalid".
	expired := mustIssue(t, auth.NewTokenIssuer(signingKey, "parley", "parley-app", -time.Minute), alice.User.ID, alice.SessionID)
	_, err := e.svc.Authenticate(ctx, expired)
	wantKind(t, "expired token", err, apperr.TokenExpired)
	// A validly signed token naming someone else's session does not act as them.
	bob := e.register(t, "bob")
	forged := mustIssue(t, auth.NewTokenIssuer(signingKey, "parley", "parley-app", time.Minute), bob.User.ID, alice.SessionID)
	_, err = e.svc.Authenticate(ctx, forged)
	wantKind(t, "token naming another user's session", err, apperr.Unauthorized)
	// A token of a session that does not exist.
	_, err = e.svc.Authenticate(ctx, mustIssue(t, auth.NewTokenIssuer(signingKey, "parley", "parley-app", time.Minute), alice.User.ID, 12345))
	wantKind(t, "unknown session", err, apperr.Unauthorized)
	if c, err := e.svc.Authenticate(ctx, alice.AccessToken); err != nil || c.UserID != alice.User.ID {
		t.Fatalf("the real token after all that: %+v %v", c, err)
	}
}

func mustIssue(t *testing.T, iss *auth.TokenIssuer, userID, sessionID int64) string {
	t.Helper()
	tok, _, err := iss.Issue(userID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenIssuerVerifiesWhatItIssued(t *testing.T) {
	t.Parallel()
	iss := auth.NewTokenIssuer(signingKey, "parley", "parley-app", time.Minute)
	tok, exp, err := iss.Issue(7, 9)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil || c.UserID != 7 || c.SessionID != 9 || !c.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("Verify: %+v %v (expiry %v)", c, err, exp)
	}
	// The "none" algorithm is refused whatever the claims.
	parts := strings.Split(tok, ".")
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
	if _, err := iss.Verify(none); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("alg none: %v", err)
	}
}

func TestRefreshRotatesAndReuseRevokesTheSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.register(t, "alice")
	first, err := e.svc.Refresh(ctx, alice.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if first.SessionID != alice.SessionID || first.RefreshToken == alice.RefreshToken || first.AccessToken == "" || first.User.ID != alice.User.ID {
		t.Fatalf("refresh: %+v; want the same session with a new refresh token", first)
	}
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if e.revoked.count() != 0 {
		t.Fatal("a normal rotation revoked something")
	}
	// Someone replays the first (spent) token: the whole session ends, the latest token with it.
	_, err = e.svc.Refresh(ctx, alice.RefreshToken)
	wantKind(t, "reuse of a spent refresh token", err, apperr.Unauthorized)
	if r := e.revoked.reason(alice.SessionID); r != "refresh_token_reuse" {
		t.Fatalf("listener heard %q, want refresh_token_reuse", r)
	}
	_, err = e.svc.Refresh(ctx, second.RefreshToken)
	wantKind(t, "the newest token of a revoked session", err, apperr.Unauthorized)
	_, err = e.svc.Authenticate(ctx, second.AccessToken)
	wantKind(t, "an access token of the revoked session", err, apperr.Unauthorized)
	// Another session of the same user is not touched.
	other, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatalf("another session: %v", err)
	}
	for what, tok := range map[string]string{"empty": "", "unknown": "bm90IGEgdG9rZW4", "too long": strings.Repeat("a", 201)} {
		_, err := e.svc.Refresh(ctx, tok)
		wantKind(t, what, err, apperr.Unauthorized)
	}
}

func TestLogoutRevokesTheSessionOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.register(t, "alice")
	other, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// Checked once, so the answer is cached: logout must still take effect at once.
	if _, err := e.svc.Authenticate(ctx, alice.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, alice.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if r := e.revoked.reason(alice.SessionID); r != "logout" {
		t.Fatalf("listener heard %q, want logout", r)
	}
	_, err = e.svc.Authenticate(ctx, alice.AccessToken)
	wantKind(t, "access token after logout", err, apperr.Unauthorized)
	wantKind(t, "CheckSession after logout", e.svc.CheckSession(ctx, alice.SessionID), apperr.Unauthorized)
	_, err = e.svc.Refresh(ctx, alice.RefreshToken)
	wantKind(t, "refresh after logout", err, apperr.Unauthorized)
	// Logging out is idempotent; an unknown token is not an error either.
	if err := e.svc.Logout(ctx, alice.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, "never issued"); err != nil {
		t.Fatal(err)
	}
	// The other device stays logged in.
	if _, err := e.svc.Authenticate(ctx, other.AccessToken); err != nil {
		t.Fatalf("the other session after logout of the first: %v", err)
	}
	// Forget (another node revoked a session) drops the cached answer: the next check asks Postgres.
	e.svc.Forget(other.SessionID)
	if err := e.svc.CheckSession(ctx, other.SessionID); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredSessionsEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *auth.Config) { c.RefreshTTL = -time.Minute }) // every session is born expired
	ctx := context.Background()
	alice := e.register(t, "alice")
	_, err := e.svc.Authenticate(ctx, alice.AccessToken)
	wantKind(t, "access token of an expired session", err, apperr.Unauthorized)
	_, err = e.svc.Refresh(ctx, alice.RefreshToken)
	wantKind(t, "refresh of an expired session", err, apperr.Unauthorized)
}

// A stopped Postgres is a retryable unavailable, never "wrong password" (which would make clients log out).
func TestAuthOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	e := newEnvOn(t, pg, auth.NewTokenIssuer(signingKey, "parley", "parley-app", 15*time.Minute), nil)
	alice := e.register(t, "alice")
	pg.Close()
	ctx := context.Background()
	_, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice", Password: "correct horse alice", IP: "10.0.0.1"})
	wantKind(t, "login", err, apperr.Unavailable)
	_, err = e.svc.Refresh(ctx, alice.RefreshToken)
	wantKind(t, "refresh", err, apperr.Unavailable)
	wantKind(t, "logout", e.svc.Logout(ctx, alice.RefreshToken), apperr.Unavailable)
	wantKind(t, "check of a session never seen", e.svc.CheckSession(ctx, alice.SessionID+1), apperr.Unavailable)
	_, err = e.svc.Me(ctx, alice.User.ID)
	wantKind(t, "me", err, apperr.Unavailable)
	_, err = e.svc.Search(ctx, "al", 10)
	wantKind(t, "search", err, apperr.Unavailable)
	_, err = e.svc.Users(ctx, []int64{alice.User.ID})
	wantKind(t, "users", err, apperr.Unavailable)
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice := e.register(t, "alice")
	bob := e.register(t, "bob")
	name, avatar := "  Alice Liddell ", "/avatars/abc123.png"
	u, err := e.svc.UpdateProfile(ctx, alice.User.ID, &name, &avatar)
	if err != nil || u.DisplayName != "Alice Liddell" || u.AvatarURL != avatar {
		t.Fatalf("update: %+v %v", u, err)
	}
	for what, bad := range map[string][2]*string{
		"empty name":       {ptr("   "), nil},
		"long name":        {ptr(strings.Repeat("a", 65)), nil},
		"control char":     {ptr("a\x07b"), nil},
		"bidi override":    {ptr("evil\u202Eexe.txt"), nil},
		"zero width":       {ptr("ad\u200Bmin"), nil},
		"external avatar":  {nil, ptr("https://evil.example/x.png")},
		"avatar traversal": {nil, ptr("/avatars/../secret")},
	} {
		_, err := e.svc.UpdateProfile(ctx, alice.User.ID, bad[0], bad[1])
		wantKind(t, what, err, apperr.Invalid)
	}
	// Nil leaves a field as it is; an empty avatar clears it.
	u, err = e.svc.UpdateProfile(ctx, alice.User.ID, nil, ptr(""))
	if err != nil || u.DisplayName != "Alice Liddell" || u.AvatarURL != "" {
		t.Fatalf("clearing the avatar: %+v %v", u, err)
	}
	me, err := e.svc.Me(ctx, alice.User.ID)
	if err != nil || me.DisplayName != "Alice Liddell" || me.AvatarURL != "" {
		t.Fatalf("read back: %+v %v", me, err)
	}
	_, err = e.svc.Me(ctx, 424242)
	wantKind(t, "me of nobody", err, apperr.NotFound)
	_, err = e.svc.UpdateProfile(ctx, 424242, &name, nil)
	wantKind(t, "update of nobody", err, apperr.NotFound)

	// Search by username prefix or the start of a display-name word.
	for q, want := range map[string]int64{"ali": alice.User.ID, "LIDD": alice.User.ID, "bo": bob.User.ID} {
		got, err := e.svc.Search(ctx, q, 0)
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("search %q: %+v %v", q, got, err)
		}
	}
	for _, q := range []string{"", "   ", strings.Repeat("a", 33)} {
		_, err := e.svc.Search(ctx, q, 10)
		wantKind(t, "search "+q, err, apperr.Invalid)
	}
	us, err := e.svc.Users(ctx, []int64{bob.User.ID, 999, alice.User.ID})
	if err != nil || len(us) != 2 {
		t.Fatalf("users: %+v %v, want the two that exist", us, err)
	}
}

func ptr(s string) *string { return &s }

func TestEmailVerification(t *testing.T) {
	t.Parallel()
	mail := &mailbox{ch: make(chan model.Mail, 10)}
	var users *postgres.UserStore
	pg := testenv.Postgres(t)
	users = postgres.NewUserStore(pg)
	e := newEnvOn(t, pg, auth.NewTokenIssuer(signingKey, "parley", "parley-app", 15*time.Minute), func(c *auth.Config) {
		c.Verification = auth.Verification{Mailer: mail, Pending: users, LinkBase: "http://app.test"}
	})
	ctx := context.Background()
	if !e.svc.VerificationOn() {
		t.Fatal("verification is off with a mailer")
	}
	res, err := e.svc.Register(ctx, auth.RegisterInput{Username: "alice", Email: "alice@example.com", Password: "correct horse", IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verification == nil || res.Verification.Email != "alice@example.com" || res.AccessToken != "" || res.RefreshToken != "" {
		t.Fatalf("register with verification on: %+v; want only 'a link was mailed'", res)
	}
	if _, err := users.ByLogin(ctx, "alice"); err == nil {
		t.Fatal("the account exists before its address was confirmed")
	}
	m := mail.next(t)
	i := strings.Index(m.Text, "http://app.test/verify-email?token=")
	if m.To != "alice@example.com" || i < 0 {
		t.Fatalf("mail %+v: want a link to /verify-email", m)
	}
	link, err := url.Parse(strings.Fields(m.Text[i:])[0])
	if err != nil {
		t.Fatal(err)
	}
	token := link.Query().Get("token")

	// The link creates the account and logs it in.
	done, err := e.svc.VerifyEmail(ctx, token)
	if err != nil || done.User.Username != "alice" || done.AccessToken == "" || done.RefreshToken == "" {
		t.Fatalf("verify: %+v %v", done, err)
	}
	if _, err := e.svc.Authenticate(ctx, done.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, auth.LoginInput{Login: "alice@example.com", Password: "correct horse", IP: "10.0.0.1"}); err != nil {
		t.Fatalf("login with the registered password: %v", err)
	}
	_, err = e.svc.VerifyEmail(ctx, token)
	wantKind(t, "a link used twice", err, apperr.NotFound)

	// Registering again with the address answers as for a new one; the owner is mailed that someone tried.
	again, err := e.svc.Register(ctx, auth.RegisterInput{Username: "alice2", Email: "ALICE@example.com", Password: "another pass", IP: "10.0.0.2"})
	if err != nil || again.Verification == nil || again.Verification.Email != "ALICE@example.com" {
		t.Fatalf("register with a taken address: %+v %v; want the same answer as a new one", again, err)
	}
	if m := mail.next(t); m.To != "alice@example.com" || !strings.Contains(m.Subject, "tried") || strings.Contains(m.Text, "token=") {
		t.Fatalf("mail to the owner: %+v", m)
	}
	if _, err := users.ByLogin(ctx, "alice2"); err == nil {
		t.Fatal("an account was created for a taken address")
	}
	// Usernames are public, so a taken one is said at once.
	_, err = e.svc.Register(ctx, auth.RegisterInput{Username: "Alice", Email: "other@example.com", Password: "correct horse", IP: "10.0.0.3"})
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Conflict || ae.Field != "username" {
		t.Fatalf("taken username: %v", err)
	}
	for what, tok := range map[string]string{"empty": "", "too long": strings.Repeat("a", 101)} {
		_, err := e.svc.VerifyEmail(ctx, tok)
		wantKind(t, what, err, apperr.Invalid)
	}
	_, err = e.svc.VerifyEmail(ctx, "never-issued-token")
	wantKind(t, "unknown token", err, apperr.NotFound)
}

// Two pending registrations of one username: the first link used wins, the second is told to pick another name.
func TestVerificationFirstLinkUsedWins(t *testing.T) {
	t.Parallel()
	mail := &mailbox{ch: make(chan model.Mail, 10)}
	pg := testenv.Postgres(t)
	users := postgres.NewUserStore(pg)
	e := newEnvOn(t, pg, auth.NewTokenIssuer(signingKey, "parley", "parley-app", 15*time.Minute), func(c *auth.Config) {
		c.Verification = auth.Verification{Mailer: mail, Pending: users, LinkBase: "http://app.test"}
	})
	ctx := context.Background()
	tokens := map[string]string{}
	for _, addr := range []string{"one@example.com", "two@example.com"} {
		if _, err := e.svc.Register(ctx, auth.RegisterInput{Username: "same", Email: addr, Password: "correct horse", IP: "10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		m := mail.next(t)
		i := strings.Index(m.Text, "token=")
		tokens[m.To] = strings.Fields(m.Text[i+len("token="):])[0]
	}
	tok2, _ := url.QueryUnescape(tokens["two@example.com"])
	tok1, _ := url.QueryUnescape(tokens["one@example.com"])
	if _, err := e.svc.VerifyEmail(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.VerifyEmail(ctx, tok1)
	if ae := apperr.As(err); ae == nil || ae.Kind != apperr.Conflict || ae.Field != "username" {
		t.Fatalf("second link for a username taken meanwhile: %v", err)
	}
	u, err := users.ByLogin(ctx, "same")
	if err != nil || u.Email != "two@example.com" {
		t.Fatalf("the account: %+v %v; want the first link's", u, err)
	}
}

func TestVerifyEmailWhenVerificationIsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if e.svc.VerificationOn() {
		t.Fatal("verification on without a mailer")
	}
	_, err := e.svc.VerifyEmail(context.Background(), "whatever")
	wantKind(t, "verify with verification off", err, apperr.NotFound)
}
