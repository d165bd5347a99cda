package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/postgres"
)

// fixture is one fresh, migrated database with the stores on it and an id counter (ids only need to be
// unique inside the test's own database).
type fixture struct {
	t         *testing.T
	ctx       context.Context
	db        *pgxpool.Pool
	users     *postgres.UserStore
	sessions  *postgres.SessionStore
	community *postgres.CommunityStore
	nextID    atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, db: db, users: postgres.NewUserStore(db), sessions: postgres.NewSessionStore(db),
		community: postgres.NewCommunityStore(db)}
	f.nextID.Store(1000)
	return f
}

func (f *fixture) id() int64 { return f.nextID.Add(1) }

// user creates a user named name (email name@example.com).
func (f *fixture) user(name string) model.User {
	f.t.Helper()
	u, err := f.users.Create(f.ctx, model.User{ID: f.id(), Username: name, Email: name + "@example.com", PasswordHash: "hash-" + name})
	if err != nil {
		f.t.Fatalf("creating user %q: %v", name, err)
	}
	return u
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// now is truncated to Postgres's timestamp precision so values read back compare equal.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func userNames(us []model.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Username
	}
	return out
}

func TestUserCreateRejectsCaseInsensitiveDuplicates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, err := f.users.Create(f.ctx, model.User{ID: 1, Username: "Alice", Email: "Alice@Example.com", PasswordHash: "h",
		DisplayName: "Alice A.", AvatarURL: "https://a.example/a.png"})
	if err != nil {
		t.Fatal(err)
	}
	if alice.ID != 1 || alice.Username != "Alice" || alice.Email != "Alice@Example.com" || alice.PasswordHash != "h" ||
		alice.DisplayName != "Alice A." || alice.AvatarURL != "https://a.example/a.png" || alice.Disabled || alice.CreatedAt.IsZero() {
		t.Fatalf("created user = %+v", alice)
	}

	_, err = f.users.Create(f.ctx, model.User{ID: 2, Username: "aLICE", Email: "other@example.com", PasswordHash: "h"})
	if !errors.Is(err, model.ErrUsernameTaken) {
		t.Fatalf("duplicate username (other case): err = %v, want ErrUsernameTaken", err)
	}
	_, err = f.users.Create(f.ctx, model.User{ID: 3, Username: "bob", Email: "ALICE@example.COM", PasswordHash: "h"})
	if !errors.Is(err, model.ErrEmailTaken) {
		t.Fatalf("duplicate email (other case): err = %v, want ErrEmailTaken", err)
	}
	if !errors.Is(err, postgres.ErrEmailTaken) {
		t.Fatalf("postgres.ErrEmailTaken does not match the returned error %v", err)
	}
	// Neither failed insert left a row behind.
	if _, err := f.users.ByID(f.ctx, 2); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ByID(2) after failed create: %v", err)
	}
	if _, err := f.users.ByID(f.ctx, 3); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ByID(3) after failed create: %v", err)
	}
	// A different user is fine.
	if _, err := f.users.Create(f.ctx, model.User{ID: 4, Username: "bob", Email: "bob@example.com", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	// Any other failure is reported as an error, not as a clash (here: a NOT NULL violation is impossible
	// through the API, so use a cancelled context).
	cctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, err := f.users.Create(cctx, model.User{ID: 5, Username: "carol", Email: "carol@example.com"}); err == nil ||
		errors.Is(err, model.ErrUsernameTaken) || errors.Is(err, model.ErrEmailTaken) {
		t.Fatalf("Create with a cancelled context: err = %v", err)
	}
}

func TestUserLookups(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, err := f.users.Create(f.ctx, model.User{ID: 10, Username: "Alice", Email: "Alice@Example.com", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	bob := f.user("bob")

	for _, login := range []string{"Alice", "alice", "ALICE", "alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"} {
		u, err := f.users.ByLogin(f.ctx, login)
		if err != nil || u.ID != alice.ID {
			t.Errorf("ByLogin(%q) = %d, %v; want user %d", login, u.ID, err, alice.ID)
		}
	}
	if u, err := f.users.ByLogin(f.ctx, "BOB@example.com"); err != nil || u.ID != bob.ID {
		t.Errorf("ByLogin(bob's email) = %d, %v", u.ID, err)
	}
	for _, login := range []string{"nobody", "alic", "alice@example", ""} {
		if _, err := f.users.ByLogin(f.ctx, login); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("ByLogin(%q): err = %v, want ErrNotFound", login, err)
		}
	}

	if u, err := f.users.ByID(f.ctx, alice.ID); err != nil || u.Username != "Alice" || !u.CreatedAt.Equal(alice.CreatedAt) {
		t.Errorf("ByID = %+v, %v", u, err)
	}
	if _, err := f.users.ByID(f.ctx, 999999); !errors.Is(err, postgres.ErrNotFound) {
		t.Errorf("ByID(unknown): err = %v, want ErrNotFound", err)
	}
	got, err := f.users.ByIDs(f.ctx, []int64{bob.ID, 999999, alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != alice.ID || got[1].ID != bob.ID {
		t.Errorf("ByIDs = %v, want alice and bob by id", userNames(got))
	}
	if got, err := f.users.ByIDs(f.ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ByIDs(nil) = %v, %v", got, err)
	}
}

func TestSearchByNameEscapesWildcards(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"a%b", "axb", "a_c", "abc", `a\d`, "Anna", "bea", "ANDY"} {
		f.user(name)
	}
	// A disabled user is never found.
	disabled := f.user("adam")
	if _, err := f.db.Exec(f.ctx, "UPDATE users SET disabled_at = now() WHERE id = $1", disabled.ID); err != nil {
		t.Fatal(err)
	}

	search := func(prefix string, limit int) []string {
		t.Helper()
		us, err := f.users.SearchByName(f.ctx, prefix, limit)
		if err != nil {
			t.Fatalf("SearchByName(%q): %v", prefix, err)
		}
		names := userNames(us)
		slices.Sort(names)
		return names
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"a%", []string{"a%b"}},          // % is literal, not "any string"
		{"A_", []string{"a_c"}},          // _ is literal, not "any character"
		{`a\`, []string{`a\d`}},          // a backslash is literal too
		{"an", []string{"ANDY", "Anna"}}, // case-insensitive
		{"AB", []string{"abc"}},
		{"z", []string{}},
		{"%", []string{}},
		{"_", []string{}},
		{"a", []string{"ANDY", "Anna", `a\d`, "a%b", "a_c", "abc", "axb"}}, // not adam (disabled), not bea
	}
	for _, c := range cases {
		got := search(c.prefix, 50)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("prefix %q: got %q, want %q", c.prefix, got, want)
		}
	}
	if got := search("a", 3); len(got) != 3 {
		t.Errorf("limit 3 gave %d users", len(got))
	}
	// Results are ordered by lower(username).
	us, err := f.users.SearchByName(f.ctx, "an", 10)
	if err != nil || len(us) != 2 || us[0].Username != "ANDY" || us[1].Username != "Anna" {
		t.Errorf("ordering: %v, %v", userNames(us), err)
	}
}

// Display names are searched too, from the start of any word; username matches come first.
func TestSearchByNameMatchesDisplayNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	wanda := f.user("zz.wanda")
	if _, err := f.users.UpdateProfile(f.ctx, wanda.ID, "Wanda Maximoff", ""); err != nil {
		t.Fatal(err)
	}
	maxi := f.user("maxine")
	nobody := f.user("yy.other")
	if _, err := f.users.UpdateProfile(f.ctx, nobody.ID, "Someone%Max", ""); err != nil { // not at a word start
		t.Fatal(err)
	}
	search := func(q string) []string {
		t.Helper()
		us, err := f.users.SearchByName(f.ctx, q, 10)
		if err != nil {
			t.Fatalf("SearchByName(%q): %v", q, err)
		}
		return userNames(us)
	}
	if got := search("MAX"); !slices.Equal(got, []string{maxi.Username, wanda.Username}) {
		t.Errorf("max: got %q, want the username match first, then the display-name match", got)
	}
	if got := search("wan"); !slices.Equal(got, []string{wanda.Username}) {
		t.Errorf("wan: got %q", got)
	}
	if got := search("imoff"); len(got) != 0 {
		t.Errorf("imoff (inside a word): got %q", got)
	}
	if got := search("%max"); len(got) != 0 {
		t.Errorf("%%max: the wildcard must stay literal, got %q", got)
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("dora")
	other := f.user("otto")
	got, err := f.users.UpdateProfile(f.ctx, u.ID, "Dora the Explorer", "https://img.example/dora.png")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.DisplayName != "Dora the Explorer" || got.AvatarURL != "https://img.example/dora.png" ||
		got.Username != "dora" || got.Email != u.Email {
		t.Fatalf("UpdateProfile returned %+v", got)
	}
	again, err := f.users.ByID(f.ctx, u.ID)
	if err != nil || again.DisplayName != "Dora the Explorer" || again.AvatarURL != "https://img.example/dora.png" {
		t.Fatalf("ByID after update = %+v, %v", again, err)
	}
	if o, _ := f.users.ByID(f.ctx, other.ID); o.DisplayName != "" || o.AvatarURL != "" {
		t.Fatalf("another user changed: %+v", o)
	}
	// Clearing works too.
	if got, err := f.users.UpdateProfile(f.ctx, u.ID, "", ""); err != nil || got.DisplayName != "" || got.AvatarURL != "" {
		t.Fatalf("clearing profile = %+v, %v", got, err)
	}
	if _, err := f.users.UpdateProfile(f.ctx, 424242, "x", "y"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("UpdateProfile(unknown): err = %v, want ErrNotFound", err)
	}
}

func (f *fixture) session(userID int64, token string, expires time.Time) model.Session {
	f.t.Helper()
	s := model.Session{ID: f.id(), UserID: userID, ExpiresAt: expires}
	if err := f.sessions.Create(f.ctx, s, hash(token)); err != nil {
		f.t.Fatalf("creating session: %v", err)
	}
	return s
}

func TestSessionRotateChain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("sam")
	t0 := now()
	expires := t0.Add(time.Hour)
	s := f.session(u.ID, "t1", expires)

	got, err := f.sessions.Rotate(f.ctx, hash("t1"), hash("t2"), t0.Add(time.Second))
	if err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	if got.ID != s.ID || got.UserID != u.ID || !got.ExpiresAt.Equal(expires) || got.RevokedAt != nil || got.CreatedAt.IsZero() {
		t.Fatalf("Rotate returned %+v", got)
	}
	if _, err := f.sessions.Rotate(f.ctx, hash("t2"), hash("t3"), t0.Add(2*time.Second)); err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	var lastUsed time.Time
	if err := f.db.QueryRow(f.ctx, "SELECT last_used_at FROM sessions WHERE id = $1", s.ID).Scan(&lastUsed); err != nil ||
		!lastUsed.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("last_used_at = %v, %v; want %v", lastUsed, err, t0.Add(2*time.Second))
	}

	// Presenting the spent t1 again is theft: reuse is reported and the whole session is revoked.
	reuseAt := t0.Add(3 * time.Second)
	got, err = f.sessions.Rotate(f.ctx, hash("t1"), hash("t4"), reuseAt)
	if !errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("reusing t1: err = %v, want ErrTokenReused", err)
	}
	if got.ID != s.ID || got.UserID != u.ID {
		t.Fatalf("reuse returned session %+v, want the session it belongs to", got)
	}
	byID, err := f.sessions.ByID(f.ctx, s.ID)
	if err != nil || byID.RevokedAt == nil || !byID.RevokedAt.Equal(reuseAt) {
		t.Fatalf("session after reuse = %+v, %v; want revoked at %v", byID, err, reuseAt)
	}
	var reason string
	if err := f.db.QueryRow(f.ctx, "SELECT revoke_reason FROM sessions WHERE id = $1", s.ID).Scan(&reason); err != nil || reason != "refresh_token_reuse" {
		t.Fatalf("revoke_reason = %q, %v", reason, err)
	}
	// The successor t3 (never used) is dead too, and t4 was never stored.
	if _, err := f.sessions.Rotate(f.ctx, hash("t3"), hash("t5"), t0.Add(4*time.Second)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotating t3 of a revoked session: err = %v, want ErrNotFound", err)
	}
	if _, err := f.sessions.Rotate(f.ctx, hash("t4"), hash("t6"), t0.Add(4*time.Second)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotating t4 (never issued): err = %v, want ErrNotFound", err)
	}
	// Another session of the same user is untouched.
	other := f.session(u.ID, "o1", expires)
	if _, err := f.sessions.Rotate(f.ctx, hash("o1"), hash("o2"), t0.Add(5*time.Second)); err != nil {
		t.Fatalf("other session: %v", err)
	}
	if o, _ := f.sessions.ByID(f.ctx, other.ID); o.RevokedAt != nil {
		t.Fatal("the other session was revoked")
	}
}

func TestSessionRotateUnknownAndExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("ella")
	t0 := now()

	if _, err := f.sessions.Rotate(f.ctx, hash("never-issued"), hash("x"), t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("unknown token: err = %v, want ErrNotFound", err)
	}

	// The session has expired.
	f.session(u.ID, "exp1", t0.Add(time.Minute))
	if _, err := f.sessions.Rotate(f.ctx, hash("exp1"), hash("exp2"), t0.Add(time.Minute)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotating at the expiry instant: err = %v, want ErrNotFound", err)
	}
	if _, err := f.sessions.Rotate(f.ctx, hash("exp1"), hash("exp2"), t0.Add(time.Hour)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotating after expiry: err = %v, want ErrNotFound", err)
	}
	// Just before expiry it works.
	if _, err := f.sessions.Rotate(f.ctx, hash("exp1"), hash("exp2"), t0.Add(time.Minute-time.Millisecond)); err != nil {
		t.Fatalf("rotating just before expiry: %v", err)
	}

	// The token has expired although the session has not.
	s := f.session(u.ID, "tok1", t0.Add(24*time.Hour))
	if _, err := f.db.Exec(f.ctx, "UPDATE refresh_tokens SET expires_at = $2 WHERE token_hash = $1", hash("tok1"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.Rotate(f.ctx, hash("tok1"), hash("tok2"), t0.Add(2*time.Minute)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("expired token: err = %v, want ErrNotFound", err)
	}
	if got, _ := f.sessions.ByID(f.ctx, s.ID); got.RevokedAt != nil {
		t.Fatal("an expired token revoked its session")
	}

	// Errors other than the outcomes are wrapped, not mistaken for them.
	cctx, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, err := f.sessions.Rotate(cctx, hash("tok1"), hash("tok2"), t0); err == nil || errors.Is(err, model.ErrNotFound) || errors.Is(err, model.ErrTokenReused) {
		t.Fatalf("Rotate with a cancelled context: err = %v", err)
	}
	if _, err := f.sessions.ByID(f.ctx, 123456789); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ByID(unknown): %v", err)
	}
}

// Two requests presenting the same refresh token at the same time: the row lock must serialise them, so
// exactly one rotates and the other is seen as a reuse.
func TestSessionConcurrentRotateExactlyOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("racer")
	t0 := now()
	const rounds = 8
	for r := 0; r < rounds; r++ {
		token := fmt.Sprintf("race-%d", r)
		s := f.session(u.ID, token, t0.Add(time.Hour))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.sessions.Rotate(f.ctx, hash(token), hash(fmt.Sprintf("%s-next-%d", token, i)), t0.Add(time.Second))
			}()
		}
		close(start)
		wg.Wait()
		ok, reused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, model.ErrTokenReused):
				reused++
			default:
				t.Fatalf("round %d: unexpected error %v", r, err)
			}
		}
		if ok != 1 || reused != 1 {
			t.Fatalf("round %d: %d successes and %d reuses (errors %v), want exactly 1 and 1", r, ok, reused, errs)
		}
		var n int
		if err := f.db.QueryRow(f.ctx, "SELECT count(*) FROM refresh_tokens WHERE session_id = $1", s.ID).Scan(&n); err != nil || n != 2 {
			t.Fatalf("round %d: %d refresh tokens, %v; want the old one and one successor", r, n, err)
		}
		if got, _ := f.sessions.ByID(f.ctx, s.ID); got.RevokedAt == nil {
			t.Fatalf("round %d: session not revoked after the reuse", r)
		}
	}
}

func TestSessionRevokeByToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("rita")
	t0 := now()
	s := f.session(u.ID, "r1", t0.Add(time.Hour))
	if _, err := f.sessions.Rotate(f.ctx, hash("r1"), hash("r2"), t0); err != nil {
		t.Fatal(err)
	}
	keep := f.session(u.ID, "k1", t0.Add(time.Hour))

	// A spent token still identifies its session (logout with an old token).
	got, err := f.sessions.RevokeByToken(f.ctx, hash("r1"), "logout", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.UserID != u.ID || got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("RevokeByToken = %+v", got)
	}
	// Revoking again keeps the first time and reason.
	got, err = f.sessions.RevokeByToken(f.ctx, hash("r2"), "other", t0.Add(time.Minute))
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("second revoke = %+v, %v; want the first revocation time kept", got, err)
	}
	var reason string
	if err := f.db.QueryRow(f.ctx, "SELECT revoke_reason FROM sessions WHERE id = $1", s.ID).Scan(&reason); err != nil || reason != "logout" {
		t.Fatalf("revoke_reason = %q, %v; want logout", reason, err)
	}
	if _, err := f.sessions.Rotate(f.ctx, hash("r2"), hash("r3"), t0.Add(2*time.Second)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("rotating a token of a revoked session: err = %v, want ErrNotFound", err)
	}
	if k, _ := f.sessions.ByID(f.ctx, keep.ID); k.RevokedAt != nil {
		t.Fatal("another session was revoked")
	}
	if _, err := f.sessions.RevokeByToken(f.ctx, hash("unknown"), "logout", t0); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("RevokeByToken(unknown): err = %v, want ErrNotFound", err)
	}
}

func TestSessionCreateIsAtomic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.user("tina")
	t0 := now()
	f.session(u.ID, "dup", t0.Add(time.Hour))
	// The second session's token clashes with the first's: the session row must not stay behind.
	s2 := model.Session{ID: f.id(), UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}
	if err := f.sessions.Create(f.ctx, s2, hash("dup")); err == nil {
		t.Fatal("Create accepted a duplicate token hash")
	}
	if _, err := f.sessions.ByID(f.ctx, s2.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("half-created session left behind: %v", err)
	}
	// A session for a missing user fails.
	if err := f.sessions.Create(f.ctx, model.Session{ID: f.id(), UserID: 987654, ExpiresAt: t0.Add(time.Hour)}, hash("x")); err == nil {
		t.Fatal("Create accepted a session of a missing user")
	}
}
