package keys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/keystore"
	redisstore "github.com/parleychat/parley/repositories/redis"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

// env is the key service on its real store (a fresh Postgres database with the chat schema and the `keys`
// schema), with a clock the test moves (keys.WithClock).
type env struct {
	db     *pgxpool.Pool
	svc    *keys.Service
	mu     sync.Mutex
	now    time.Time
	nextID int64
	pol    keys.Policy
}

func newEnv(t testing.TB, change func(*keys.Policy)) *env {
	t.Helper()
	url := testenv.PostgresURL(t)
	if _, err := keystore.Migrate(url); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	pol := keys.DefaultPolicy
	pol.ClaimEvery = 0 // no claim budget unless a test sets one
	if change != nil {
		change(&pol)
	}
	e := &env{db: db, now: time.Now(), nextID: 1000, pol: pol}
	e.withNotifier(nil)
	return e
}

// withNotifier rebuilds the service with a notifier (nil: none).
func (e *env) withNotifier(n keys.Notifier) {
	e.svc = keys.New(keystore.New(e.db), n, e.pol, slog.New(slog.NewTextHandler(io.Discard, nil)), keys.WithClock(e.clock))
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *env) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// user inserts a chat user (the key tables refer to users) with a live session, and returns both ids.
func (e *env) user(t testing.TB) (int64, int64) {
	t.Helper()
	e.mu.Lock()
	e.nextID += 2
	uid, sid := e.nextID, e.nextID+1
	e.mu.Unlock()
	ctx := context.Background()
	name := fmt.Sprintf("u%d", uid)
	if _, err := e.db.Exec(ctx, `INSERT INTO users (id, username, email, password_hash) VALUES ($1, $2, $3, 'x')`, uid, name, name+"@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')`, sid, uid); err != nil {
		t.Fatal(err)
	}
	return uid, sid
}

func (e *env) device(t testing.TB, userID int64, name string) int64 {
	t.Helper()
	d, err := e.svc.RegisterDevice(context.Background(), userID, name, bytes.Repeat([]byte{byte(userID)}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func kp(tag string) []byte { return []byte(tag + strings.Repeat(".", 40-len(tag))) }

const groupID = "Z3JvdXAtaWQtMDAwMDAwMDAx" // base64url, 24 characters

func wantKind(t *testing.T, what string, err error, kind apperr.Kind) {
	t.Helper()
	if !apperr.Is(err, kind) {
		t.Fatalf("%s: %v, want %s", what, err, kind)
	}
}

func wantRefusal(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var r *keys.Refusal
	if !errors.As(err, &r) || r.Reason != reason {
		t.Fatalf("%s: %v, want a %s refusal", what, err, reason)
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.MaxDevices = 2 })
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	key := bytes.Repeat([]byte{1}, 32)
	for what, c := range map[string]struct {
		name string
		key  []byte
	}{
		"empty name": {"  ", key}, "long name": {strings.Repeat("n", 65), key}, "short key": {"laptop", key[:15]}, "huge key": {"laptop", make([]byte, 4097)},
	} {
		_, err := e.svc.RegisterDevice(ctx, alice, c.name, c.key)
		wantKind(t, what, err, apperr.Invalid)
	}
	d1, err := e.svc.RegisterDevice(ctx, alice, "  laptop ", key)
	if err != nil || d1.Name != "laptop" || d1.UserID != alice || !bytes.Equal(d1.SignatureKey, key) {
		t.Fatalf("device %+v %v", d1, err)
	}
	e.device(t, alice, "phone")
	_, err = e.svc.RegisterDevice(ctx, alice, "tablet", key)
	wantKind(t, "a 3rd device with a cap of 2", err, apperr.LimitReached)
	// Removing one makes room; others see the active devices only.
	if _, err := e.svc.RemoveDevice(ctx, alice, d1.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.RemoveDevice(ctx, alice, d1.ID)
	wantKind(t, "removing twice", err, apperr.NotFound)
	e.device(t, alice, "tablet")
	list, err := e.svc.UserDevices(ctx, alice)
	if err != nil || len(list) != 2 {
		t.Fatalf("alice's devices %+v %v", list, err)
	}
	for _, d := range list {
		if d.ID == d1.ID {
			t.Fatal("a removed device is listed")
		}
	}
	if own, err := e.svc.Devices(ctx, bob); err != nil || len(own) != 0 {
		t.Fatalf("bob's devices %v %v", own, err)
	}
	// Nobody removes another's device.
	_, err = e.svc.RemoveDevice(ctx, bob, list[0].ID)
	wantKind(t, "removing someone else's device", err, apperr.NotFound)
}

func TestKeyPackagesArePublishedAndClaimedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.MaxKeyPackages = 3 })
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	aliceDev := e.device(t, alice, "laptop")
	bobDev := e.device(t, bob, "laptop")
	bobPhone := e.device(t, bob, "phone")

	_, err := e.svc.PublishKeyPackages(ctx, alice, bobDev, [][]byte{kp("x")}, nil)
	wantKind(t, "publishing for someone else's device", err, apperr.NotFound)
	_, err = e.svc.PublishKeyPackages(ctx, bob, bobDev, nil, nil)
	wantKind(t, "publishing nothing", err, apperr.Invalid)
	_, err = e.svc.PublishKeyPackages(ctx, bob, bobDev, [][]byte{kp("1"), kp("2"), kp("3"), kp("4")}, nil)
	wantKind(t, "too many in one request", err, apperr.Invalid)
	_, err = e.svc.PublishKeyPackages(ctx, bob, bobDev, [][]byte{[]byte("short")}, nil)
	wantKind(t, "a tiny key package", err, apperr.Invalid)
	n, err := e.svc.PublishKeyPackages(ctx, bob, bobDev, [][]byte{kp("one")}, kp("last"))
	if err != nil || n != 1 {
		t.Fatalf("publish: %d %v", n, err)
	}

	// Each claim takes one package per device of the target; the one-time package goes once, then the last
	// resort is handed out (again and again). A device that published nothing is left out.
	got, err := e.svc.ClaimKeyPackages(ctx, alice, aliceDev, bob)
	if err != nil || len(got) != 1 || got[0].DeviceID != bobDev || !bytes.Equal(got[0].Data, kp("one")) || got[0].LastResort {
		t.Fatalf("first claim %+v %v", got, err)
	}
	for i := 0; i < 2; i++ {
		got, err = e.svc.ClaimKeyPackages(ctx, alice, aliceDev, bob)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, kp("last")) || !got[0].LastResort {
			t.Fatalf("claim %d after the one-time package: %+v %v", i+2, got, err)
		}
	}
	_, err = e.svc.ClaimKeyPackages(ctx, alice, bobDev, bob)
	wantKind(t, "claiming with someone else's device", err, apperr.NotFound)
	// Claiming one's own other devices leaves out the claiming device.
	if _, err := e.svc.PublishKeyPackages(ctx, bob, bobPhone, [][]byte{kp("phone")}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = e.svc.ClaimKeyPackages(ctx, bob, bobDev, bob)
	if err != nil || len(got) != 1 || got[0].DeviceID != bobPhone {
		t.Fatalf("bob adding his own other devices: %+v %v", got, err)
	}
	// A removed device's packages are gone with it.
	if _, err := e.svc.RemoveDevice(ctx, bob, bobDev); err != nil {
		t.Fatal(err)
	}
	got, err = e.svc.ClaimKeyPackages(ctx, alice, aliceDev, bob)
	if err != nil || len(got) != 0 {
		t.Fatalf("after removing the device: %+v %v", got, err)
	}
}

func TestClaimsAreRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.ClaimEvery, p.ClaimBurst = time.Hour, 2 })
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	aliceDev := e.device(t, alice, "laptop")
	for i := 0; i < 2; i++ {
		if _, err := e.svc.ClaimKeyPackages(ctx, alice, aliceDev, bob); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.svc.ClaimKeyPackages(ctx, alice, aliceDev, bob)
	wantKind(t, "a 3rd claim in a burst of 2", err, apperr.RateLimited)
	// The budget is the claimer's: bob still claims.
	bobDev := e.device(t, bob, "laptop")
	if _, err := e.svc.ClaimKeyPackages(ctx, bob, bobDev, alice); err != nil {
		t.Fatalf("another user's claim: %v", err)
	}
}

// A group's Commits are ordered one per epoch; Welcomes reach the added devices; non-members see nothing.
func TestCommitsAreOrderedAndWelcomesDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	carol, _ := e.user(t)
	aliceDev := e.device(t, alice, "laptop")
	bobDev := e.device(t, bob, "laptop")
	carolDev := e.device(t, carol, "laptop")

	for what, id := range map[string]string{"short": "abc", "not base64url": "not+base64/url=====", "bad padding length": "A"} {
		_, err := e.svc.CreateGroup(ctx, alice, aliceDev, id, 0)
		wantKind(t, what, err, apperr.Invalid)
	}
	_, err := e.svc.CreateGroup(ctx, alice, aliceDev, groupID, -1)
	wantKind(t, "negative channel", err, apperr.Invalid)
	_, err = e.svc.CreateGroup(ctx, alice, bobDev, groupID, 0)
	wantKind(t, "creating with someone else's device", err, apperr.NotFound)
	g, err := e.svc.CreateGroup(ctx, alice, aliceDev, groupID, 77)
	if err != nil || g.Epoch != 0 || g.ChannelID != 77 {
		t.Fatalf("create %+v %v", g, err)
	}
	_, err = e.svc.CreateGroup(ctx, alice, aliceDev, groupID, 77)
	wantKind(t, "the same id again", err, apperr.Conflict)
	_, err = e.svc.Group(ctx, bob, groupID)
	wantKind(t, "a non-member reads the group", err, apperr.NotFound)
	_, err = e.svc.Commits(ctx, bob, groupID, 0, 0)
	wantKind(t, "a non-member reads Commits", err, apperr.NotFound)

	commit := func(user int64, in keys.CommitInput) (keys.Status, error) {
		in.GroupID = groupID
		return e.svc.Commit(ctx, user, in)
	}
	for what, in := range map[string]keys.CommitInput{
		"empty commit":         {DeviceID: aliceDev, Epoch: 0},
		"adds without welcome": {DeviceID: aliceDev, Epoch: 0, Commit: []byte("c"), Adds: []int64{bobDev}},
		"welcome without adds": {DeviceID: aliceDev, Epoch: 0, Commit: []byte("c"), Welcome: []byte("w")},
		"add and remove same":  {DeviceID: aliceDev, Epoch: 0, Commit: []byte("c"), Adds: []int64{bobDev}, Removes: []int64{bobDev}, Welcome: []byte("w")},
		"removing itself":      {DeviceID: aliceDev, Epoch: 0, Commit: []byte("c"), Removes: []int64{aliceDev}},
	} {
		_, err := commit(alice, in)
		wantKind(t, what, err, apperr.Invalid)
	}
	st, err := commit(alice, keys.CommitInput{DeviceID: aliceDev, Epoch: 0, Commit: []byte("add bob"), Adds: []int64{bobDev}, Welcome: []byte("welcome bob")})
	if err != nil || st.Group.Epoch != 1 || len(st.Members) != 2 {
		t.Fatalf("adding bob: %+v %v", st, err)
	}
	// A second Commit on epoch 0 (someone else's concurrent one) is refused: every member applies one sequence.
	_, err = commit(alice, keys.CommitInput{DeviceID: aliceDev, Epoch: 0, Commit: []byte("late")})
	wantRefusal(t, "a Commit on a past epoch", err, "stale_epoch")
	_, err = commit(alice, keys.CommitInput{DeviceID: aliceDev, Epoch: 5, Commit: []byte("future")})
	wantRefusal(t, "a Commit on a future epoch", err, "stale_epoch")
	// bob's device got its Welcome; carol's got nothing, and cannot read bob's.
	ws, err := e.svc.Welcomes(ctx, bob, bobDev)
	if err != nil || len(ws) != 1 || string(ws[0].Data) != "welcome bob" || ws[0].GroupID != groupID {
		t.Fatalf("bob's welcomes %+v %v", ws, err)
	}
	_, err = e.svc.Welcomes(ctx, carol, bobDev)
	wantKind(t, "reading another's welcomes", err, apperr.NotFound)
	if ws, _ := e.svc.Welcomes(ctx, carol, carolDev); len(ws) != 0 {
		t.Fatalf("carol got welcomes: %+v", ws)
	}
	welcomeID := ws[0].ID
	wantKind(t, "acking with another's device", e.svc.AckWelcome(ctx, carol, bobDev, welcomeID), apperr.NotFound)
	if ws, _ := e.svc.Welcomes(ctx, bob, bobDev); len(ws) != 1 {
		t.Fatal("a refused ack dropped the welcome")
	}
	if err := e.svc.AckWelcome(ctx, bob, bobDev, welcomeID); err != nil {
		t.Fatal(err)
	}
	if ws, _ := e.svc.Welcomes(ctx, bob, bobDev); len(ws) != 0 {
		t.Fatalf("an acknowledged welcome is still waiting: %+v", ws)
	}
	// bob, now a member, commits the next epoch and catches up on the Commits.
	if _, err := commit(bob, keys.CommitInput{DeviceID: bobDev, Epoch: 1, Commit: []byte("bob's update")}); err != nil {
		t.Fatal(err)
	}
	cs, err := e.svc.Commits(ctx, bob, groupID, 0, 0)
	if err != nil || len(cs) != 2 || string(cs[0].Data) != "add bob" || cs[1].Epoch != 1 || cs[1].Sender != bobDev {
		t.Fatalf("commits %+v %v", cs, err)
	}
	if cs, _ := e.svc.Commits(ctx, bob, groupID, 1, 0); len(cs) != 1 {
		t.Fatalf("commits since epoch 1: %d", len(cs))
	}
	_, err = e.svc.Commits(ctx, bob, groupID, -1, 0)
	wantKind(t, "negative since", err, apperr.Invalid)
	// carol's device is not in the group: her Commit is refused even with a valid device of her own.
	_, err = commit(carol, keys.CommitInput{DeviceID: carolDev, Epoch: 2, Commit: []byte("intruder")})
	wantKind(t, "a non-member commits", err, apperr.NotFound)
	// A member user committing from a device that is not in the group.
	bobPhone := e.device(t, bob, "phone")
	_, err = commit(bob, keys.CommitInput{DeviceID: bobPhone, Epoch: 2, Commit: []byte("from the phone")})
	wantKind(t, "a member's device outside the group", err, apperr.Forbidden)
	if list, err := e.svc.Groups(ctx, bob, 77); err != nil || len(list) != 1 || list[0].Group.Epoch != 2 {
		t.Fatalf("bob's groups in channel 77: %+v %v", list, err)
	}
	if list, _ := e.svc.Groups(ctx, carol, 0); len(list) != 0 {
		t.Fatalf("carol's groups: %+v", list)
	}
}

// The rotation policy: an epoch is due after MaxAge or MaxMessages, and messages are refused past the grace
// until someone commits.
func TestRotationPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) {
		p.MaxAge, p.Grace, p.MaxMessages, p.GraceMessages = 7*24*time.Hour, 24*time.Hour, 3, 1
	})
	ctx := context.Background()
	alice, _ := e.user(t)
	dev := e.device(t, alice, "laptop")
	if _, err := e.svc.CreateGroup(ctx, alice, dev, groupID, 0); err != nil {
		t.Fatal(err)
	}
	// Messages: 3 fine, the 3rd makes the rotation due, a 4th is the grace, the 5th is refused.
	for i := 1; i <= 4; i++ {
		st, err := e.svc.AdmitMessage(ctx, alice, groupID, 0)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if due := i >= 3; st.RotationDue != due || (due && st.DueReason != "messages") || st.Overdue != (i >= 4) {
			t.Fatalf("after message %d: due %v (%q), overdue %v", i, st.RotationDue, st.DueReason, st.Overdue)
		}
	}
	_, err := e.svc.AdmitMessage(ctx, alice, groupID, 0)
	wantRefusal(t, "the 5th message", err, "rotation_overdue")
	_, err = e.svc.AdmitMessage(ctx, alice, groupID, 1)
	wantRefusal(t, "a message in an epoch that does not exist yet", err, "stale_epoch")
	// A Commit starts a fresh epoch: messages flow again, and the old epoch's are refused as stale.
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: dev, GroupID: groupID, Epoch: 0, Commit: []byte("rotate")}); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.AdmitMessage(ctx, alice, groupID, 1)
	if err != nil || st.RotationDue || st.Group.Messages != 1 {
		t.Fatalf("after rotating: %+v %v", st, err)
	}
	_, err = e.svc.AdmitMessage(ctx, alice, groupID, 0)
	wantRefusal(t, "a message in the old epoch", err, "stale_epoch")
	// Age: due after MaxAge, refused after MaxAge + Grace.
	e.advance(7*24*time.Hour + time.Minute)
	st, err = e.svc.Group(ctx, alice, groupID)
	if err != nil || !st.RotationDue || st.DueReason != "age" || st.Overdue {
		t.Fatalf("after 7 days: %+v %v", st, err)
	}
	if _, err := e.svc.AdmitMessage(ctx, alice, groupID, 1); err != nil {
		t.Fatalf("a message inside the grace: %v", err)
	}
	e.advance(24 * time.Hour)
	_, err = e.svc.AdmitMessage(ctx, alice, groupID, 1)
	wantRefusal(t, "a message after the grace", err, "rotation_overdue")
	if st, _ := e.svc.Group(ctx, alice, groupID); !st.Overdue {
		t.Fatalf("status after the grace: %+v", st)
	}
}

// Removing a device makes every group it is in due for a Commit that removes it, with the grace counted from the
// removal.
func TestRemovedDeviceMustBeCommittedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.Grace = time.Hour })
	ctx := context.Background()
	alice, _ := e.user(t)
	laptop := e.device(t, alice, "laptop")
	phone := e.device(t, alice, "phone")
	if _, err := e.svc.CreateGroup(ctx, alice, laptop, groupID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: laptop, GroupID: groupID, Epoch: 0, Commit: []byte("add phone"),
		Adds: []int64{phone}, Welcome: []byte("w")}); err != nil {
		t.Fatal(err)
	}
	groups, err := e.svc.RemoveDevice(ctx, alice, phone)
	if err != nil || len(groups) != 1 || groups[0] != groupID {
		t.Fatalf("groups owing a Commit: %v %v", groups, err)
	}
	st, err := e.svc.Group(ctx, alice, groupID)
	if err != nil || !st.RotationDue || st.DueReason != "membership" || st.Overdue {
		t.Fatalf("after removing the phone: %+v %v", st, err)
	}
	e.advance(time.Hour + time.Second)
	_, err = e.svc.AdmitMessage(ctx, alice, groupID, 1)
	wantRefusal(t, "a message after the membership grace", err, "rotation_overdue")
	// The removed device can no longer act.
	_, err = e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: phone, GroupID: groupID, Epoch: 1, Commit: []byte("x")})
	wantKind(t, "a removed device commits", err, apperr.NotFound)
	// The Commit that removes it clears the debt.
	st, err = e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: laptop, GroupID: groupID, Epoch: 1, Commit: []byte("remove phone"), Removes: []int64{phone}})
	if err != nil || st.RotationDue || st.Overdue || len(st.Members) != 1 {
		t.Fatalf("after committing the removal: %+v %v", st, err)
	}
	if _, err := e.svc.AdmitMessage(ctx, alice, groupID, 2); err != nil {
		t.Fatalf("a message after the removal Commit: %v", err)
	}
}

// The key service accepts the chat server's access tokens for live sessions only.
func TestAuthenticatorAcceptsLiveChatSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice, aliceSession := e.user(t)
	bob, _ := e.user(t)
	tokens := auth.NewTokenIssuer([]byte("0123456789abcdef0123456789abcdef"), "parley", "parley-api", time.Hour)
	issue := func(uid, sid int64) string {
		tok, _, err := tokens.Issue(uid, sid)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a := keys.NewAuthenticator(tokens, keystore.NewSessions(e.db))
	if uid, err := a.Authenticate(ctx, issue(alice, aliceSession)); err != nil || uid != alice {
		t.Fatalf("alice: %d %v", uid, err)
	}
	_, err := a.Authenticate(ctx, issue(bob, aliceSession))
	wantKind(t, "a token naming another user's session", err, apperr.Unauthorized)
	_, err = a.Authenticate(ctx, "garbage")
	wantKind(t, "garbage", err, apperr.Unauthorized)
	expired, _, _ := auth.NewTokenIssuer([]byte("0123456789abcdef0123456789abcdef"), "parley", "parley-api", -time.Hour).Issue(alice, aliceSession)
	_, err = a.Authenticate(ctx, expired)
	wantKind(t, "expired", err, apperr.TokenExpired)
	// A revoked session is refused (by a fresh authenticator: a live answer is remembered for seconds).
	if _, err := e.db.Exec(ctx, "UPDATE sessions SET revoked_at = now() WHERE id = $1", aliceSession); err != nil {
		t.Fatal(err)
	}
	_, err = keys.NewAuthenticator(tokens, keystore.NewSessions(e.db)).Authenticate(ctx, issue(alice, aliceSession))
	wantKind(t, "a revoked session", err, apperr.Unauthorized)
	_, err = a.Authenticate(ctx, issue(alice, 424242))
	wantKind(t, "an unknown session", err, apperr.Unauthorized)
}

// A stopped key database is a retryable unavailable.
func TestKeyStoreOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice, _ := e.user(t)
	dev := e.device(t, alice, "laptop")
	e.db.Close()
	_, err := e.svc.Devices(ctx, alice)
	wantKind(t, "devices", err, apperr.Unavailable)
	_, err = e.svc.PublishKeyPackages(ctx, alice, dev, [][]byte{kp("x")}, nil)
	wantKind(t, "publish", err, apperr.Unavailable)
	_, err = e.svc.RegisterDevice(ctx, alice, "phone", bytes.Repeat([]byte{1}, 32))
	wantKind(t, "register", err, apperr.Unavailable)
}

// notices records what the service announces.
type notices struct {
	mu   sync.Mutex
	got  []model.KeyNotice
	fail bool
}

func (n *notices) Notify(_ context.Context, k model.KeyNotice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return errors.New("redis down")
	}
	n.got = append(n.got, k)
	return nil
}

func (n *notices) take() []model.KeyNotice {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.got
	n.got = nil
	return out
}

func sameUsers(got []int64, want ...int64) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// TestNoticesReachTheUsersConcerned: a new device's first publish, a Commit (members before and after it), a
// device removal (its owner and everyone in its groups) and the message that makes an epoch due are announced,
// each once, to exactly the users concerned; a top-up, a refused Commit and other messages are not; a failing
// notifier never fails the operation.
func TestNoticesReachTheUsersConcerned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.MaxMessages = 2 })
	rec := &notices{}
	e.withNotifier(rec)
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	carol, _ := e.user(t) // shares nothing with them
	a1, b1, c1 := e.device(t, alice, "a1"), e.device(t, bob, "b1"), e.device(t, carol, "c1")
	if _, err := e.svc.PublishKeyPackages(ctx, carol, c1, [][]byte{kp("c")}, kp("c-last")); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Reason != "device_added" || !sameUsers(got[0].UserIDs, carol) || got[0].DeviceID != c1 {
		t.Fatalf("first publish: %+v", got)
	}
	if _, err := e.svc.CreateGroup(ctx, alice, a1, groupID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: a1, GroupID: groupID, Epoch: 0, Commit: []byte("add bob"), Adds: []int64{b1}, Welcome: []byte("w")}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Reason != "commit" || got[0].GroupID != groupID || !sameUsers(got[0].UserIDs, alice, bob) {
		t.Fatalf("commit: %+v", got)
	}
	// A stale Commit changes nothing and announces nothing.
	if _, err := e.svc.Commit(ctx, bob, keys.CommitInput{DeviceID: b1, GroupID: groupID, Epoch: 0, Commit: []byte("late")}); err == nil {
		t.Fatal("stale commit accepted")
	}
	// Bob's second browser: its first publish tells Bob's and Alice's devices (they share a group); a top-up does not.
	b2 := e.device(t, bob, "b2")
	if _, err := e.svc.PublishKeyPackages(ctx, bob, b2, [][]byte{kp("b2")}, kp("b2-last")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PublishKeyPackages(ctx, bob, b2, [][]byte{kp("b2-more")}, nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Reason != "device_added" || !sameUsers(got[0].UserIDs, alice, bob) {
		t.Fatalf("bob's new device: %+v", got)
	}
	// Messages: only the one that makes the epoch due is announced.
	for i := 0; i < 2; i++ {
		if _, err := e.svc.AdmitMessage(ctx, alice, groupID, 1); err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); (i == 1) != (len(got) == 1) || (i == 1 && (got[0].Reason != "rotation_due" || !sameUsers(got[0].UserIDs, alice, bob))) {
			t.Fatalf("message %d: %+v", i, got)
		}
	}
	// Removing Bob's device in the group: Bob's other devices and Alice hear of it.
	if _, err := e.svc.RemoveDevice(ctx, bob, b1); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Reason != "device_removed" || got[0].DeviceID != b1 || !sameUsers(got[0].UserIDs, alice, bob) {
		t.Fatalf("removal: %+v", got)
	}
	// The Commit that removes it still reaches Bob (members before the Commit), whose other browser must know.
	rec.fail = true
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: a1, GroupID: groupID, Epoch: 1, Commit: []byte("remove b1"), Removes: []int64{b1}}); err != nil {
		t.Fatalf("a failing notifier failed the Commit: %v", err)
	}
	rec.fail = false
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: a1, GroupID: groupID, Epoch: 2, Commit: []byte("rotate")}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || !sameUsers(got[0].UserIDs, alice) {
		t.Fatalf("rotation with alice alone: %+v", got)
	}
}

// TestCommitsEveryMemberPassedArePruned: the Commit log keeps what the slowest member still needs; a device's
// "since" counts for itself only, cannot run ahead of the group, and a removed device stops holding it back.
func TestCommitsEveryMemberPassedArePruned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	a1, b1, b2 := e.device(t, alice, "a1"), e.device(t, bob, "b1"), e.device(t, bob, "b2")
	if _, err := e.svc.CreateGroup(ctx, alice, a1, groupID, 0); err != nil {
		t.Fatal(err)
	}
	commit := func(epoch int64, adds, removes []int64) {
		t.Helper()
		in := keys.CommitInput{DeviceID: a1, GroupID: groupID, Epoch: epoch, Commit: []byte(fmt.Sprintf("c%d", epoch)), Adds: adds, Removes: removes}
		if len(adds) > 0 {
			in.Welcome = []byte("w")
		}
		if _, err := e.svc.Commit(ctx, alice, in); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() []int64 {
		t.Helper()
		rows, err := e.db.Query(ctx, `SELECT epoch FROM keys.commits WHERE group_id = $1 ORDER BY epoch`, groupID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var n int64
			_ = rows.Scan(&n)
			out = append(out, n)
		}
		return out
	}
	commit(0, []int64{b1, b2}, nil) // bob's devices join at epoch 1
	commit(1, nil, nil)
	commit(2, nil, nil)
	if got := stored(); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("before anyone caught up: %v (alice's device has not said it passed epoch 0)", got)
	}
	if _, err := e.svc.Commits(ctx, alice, groupID, 3, a1); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("alice at 3, bob's devices joined at 1: %v", got)
	}
	// b1 catches up to 3; b2 lags at 1: everything from epoch 1 on stays for it.
	if cs, err := e.svc.Commits(ctx, bob, groupID, 3, b1); err != nil || len(cs) != 0 {
		t.Fatalf("b1 at 3: %v %v", cs, err)
	}
	if got := stored(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("b2 still at 1: %v", got)
	}
	if cs, err := e.svc.Commits(ctx, bob, groupID, 1, b2); err != nil || len(cs) != 2 {
		t.Fatalf("the lagging device catches up: %v %v", cs, err)
	}
	// Claims ahead of the group, or for another user's device, change nothing.
	if _, err := e.svc.Commits(ctx, bob, groupID, 99, b2); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Commits(ctx, bob, groupID, 3, a1)
	wantKind(t, "since for alice's device, as bob", err, apperr.NotFound)
	if got := stored(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("after bogus claims: %v", got)
	}
	// b2 is removed and committed out: the others are all at 3 or later, so only what follows remains.
	if _, err := e.svc.RemoveDevice(ctx, bob, b2); err != nil {
		t.Fatal(err)
	}
	commit(3, nil, []int64{b2})
	if got := stored(); !slices.Equal(got, []int64{3}) {
		t.Fatalf("after b2 left: %v", got)
	}
}

// TestRotationDueByAgeIsAnnouncedOnceAcrossReplicas: two instances of the service on one database sweep at the
// same time, repeatedly; every group whose epoch is older than MaxAge is announced exactly once (to its
// members), a younger one never, and the next epoch turning due is announced once again.
func TestRotationDueByAgeIsAnnouncedOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.MaxAge = 24 * time.Hour })
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	a1, b1 := e.device(t, alice, "a1"), e.device(t, bob, "b1")
	const groups = 40
	id := func(i int) string { return fmt.Sprintf("sweep-group-%04d", i) }
	for i := 0; i < groups; i++ {
		if _, err := e.svc.CreateGroup(ctx, alice, a1, id(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: a1, GroupID: id(0), Epoch: 0, Commit: []byte("add bob"), Adds: []int64{b1}, Welcome: []byte("w")}); err != nil {
		t.Fatal(err)
	}
	e.advance(12 * time.Hour)
	young := "sweep-young-group-01"
	if _, err := e.svc.CreateGroup(ctx, alice, a1, young, 0); err != nil {
		t.Fatal(err)
	}
	// Two replicas, each with its own notifier, sharing the store and the clock.
	recs := []*notices{{}, {}}
	replicas := make([]*keys.Service, len(recs))
	for i, rec := range recs {
		replicas[i] = keys.New(keystore.New(e.db), rec, e.pol, slog.New(slog.NewTextHandler(io.Discard, nil)), keys.WithClock(e.clock))
	}
	sweepAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, r := range replicas {
			for k := 0; k < 3; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := r.SweepDueByAge(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
	}
	collect := func() map[string][]model.KeyNotice {
		out := map[string][]model.KeyNotice{}
		for _, rec := range recs {
			for _, n := range rec.take() {
				out[n.GroupID] = append(out[n.GroupID], n)
			}
		}
		return out
	}
	sweepAll()
	if got := collect(); len(got) != 0 {
		t.Fatalf("nothing is due yet, got %d groups announced", len(got))
	}
	e.advance(12*time.Hour + time.Minute) // the 40 groups are 24h01m old, the young one 12h01m
	sweepAll()
	sweepAll()
	got := collect()
	if len(got) != groups {
		t.Fatalf("%d groups announced, want %d", len(got), groups)
	}
	for i := 0; i < groups; i++ {
		ns := got[id(i)]
		want := []int64{alice}
		if i == 0 {
			want = []int64{alice, bob}
		}
		if len(ns) != 1 || ns[0].Reason != "rotation_due" || !sameUsers(ns[0].UserIDs, want...) {
			t.Fatalf("group %d: %+v", i, ns)
		}
	}
	// A rotation starts a new epoch; when that one is due by age it is announced once more, with the young group.
	if _, err := e.svc.Commit(ctx, alice, keys.CommitInput{DeviceID: a1, GroupID: id(0), Epoch: 1, Commit: []byte("rotate")}); err != nil {
		t.Fatal(err)
	}
	e.advance(12 * time.Hour)
	sweepAll()
	if got := collect(); len(got) != 1 || len(got[young]) != 1 {
		t.Fatalf("after 12 more hours: %+v", got)
	}
	e.advance(12 * time.Hour)
	sweepAll()
	if got := collect(); len(got) != 1 || len(got[id(0)]) != 1 || !sameUsers(got[id(0)][0].UserIDs, alice, bob) {
		t.Fatalf("the next epoch due: %+v", got)
	}
	// Without a notifier a replica claims nothing (a replica that can announce will).
	if n, err := e.svc.SweepDueByAge(ctx); n != 0 || err != nil {
		t.Fatalf("sweep without notifier: %d %v", n, err)
	}
}

// TestSweeperRunsUntilStopped: the periodic sweeper announces at its first tick and stops with its context; a
// failing store is logged and does not stop it.
func TestSweeperRunsUntilStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.MaxAge = time.Hour })
	rec := &notices{}
	e.withNotifier(rec)
	ctx, cancel := context.WithCancel(context.Background())
	alice, _ := e.user(t)
	a1 := e.device(t, alice, "a1")
	if _, err := e.svc.CreateGroup(ctx, alice, a1, groupID, 0); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Hour)
	done := make(chan struct{})
	go func() { e.svc.RunSweeper(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	var got []model.KeyNotice
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = append(got, rec.take()...)
	}
	if len(got) != 1 || got[0].GroupID != groupID || got[0].Reason != "rotation_due" {
		t.Fatalf("sweeper: %+v", got)
	}
	e.db.Close() // every later sweep fails; the loop keeps going until cancelled
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("announced again: %+v", got)
	}
}

// TestClaimBudgetIsSharedAcrossReplicas: two instances of the service on one Redis grant one user one burst in
// all (alternating between them), refuse the rest with the wait, and leave other users alone; with Redis
// unreachable each instance falls back to its own budget (fails open to the per-replica bound).
func TestClaimBudgetIsSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(p *keys.Policy) { p.ClaimEvery, p.ClaimBurst = time.Hour, 3 })
	rc, prefix := testenv.Redis(t)
	ctx := context.Background()
	alice, _ := e.user(t)
	bob, _ := e.user(t)
	aliceDev, bobDev := e.device(t, alice, "laptop"), e.device(t, bob, "laptop")
	var logs bytes.Buffer
	replicas := func(rc *goredis.Client) []*keys.Service {
		var out []*keys.Service
		for range 2 {
			l := redisstore.NewRateLimiter(rc, prefix, e.pol.ClaimEvery, e.pol.ClaimBurst)
			out = append(out, keys.New(keystore.New(e.db), nil, e.pol, slog.New(slog.NewTextHandler(&logs, nil)), keys.ShareClaimBudget(l)))
		}
		return out
	}
	shared := replicas(rc)
	allowed := 0
	for i := range 8 {
		_, err := shared[i%2].ClaimKeyPackages(ctx, alice, aliceDev, bob)
		switch {
		case err == nil:
			allowed++
		case apperr.Is(err, apperr.RateLimited):
		default:
			t.Fatal(err)
		}
	}
	if allowed != 3 {
		t.Fatalf("%d of 8 claims allowed across two replicas, want the burst of 3", allowed)
	}
	if _, err := shared[1].ClaimKeyPackages(ctx, bob, bobDev, alice); err != nil {
		t.Fatalf("another user's claim: %v", err)
	}
	// Redis unreachable: each replica grants its own burst of 3, then refuses.
	down := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = down.Close() })
	for _, r := range replicas(down) {
		for i := range 4 {
			_, err := r.ClaimKeyPackages(ctx, alice, aliceDev, bob)
			if i < 3 && err != nil {
				t.Fatalf("claim %d with Redis down: %v", i, err)
			}
			if i == 3 {
				wantKind(t, "a 4th claim on one replica with Redis down", err, apperr.RateLimited)
			}
		}
	}
	// Each replica says so once (a minute apart at most), not on every claim.
	if n := strings.Count(logs.String(), "shared claim budget unavailable"); n != 2 {
		t.Fatalf("%d warnings for 8 claims on two replicas with Redis down, want 2:\n%s", n, logs.String())
	}
}

// BenchmarkSweepDueByAge: one sweep over 2,000 due groups of two users each (the claim, each group's members, a
// notice to a notifier that keeps nothing), the rows marked unannounced again between sweeps. BENCHMARKS.md.
func BenchmarkSweepDueByAge(b *testing.B) {
	const groups = 2000
	e := newEnv(b, func(p *keys.Policy) { p.MaxAge = time.Hour })
	e.withNotifier(discard{})
	ctx := context.Background()
	alice, _ := e.user(b)
	bob, _ := e.user(b)
	a1, b1 := e.device(b, alice, "a1"), e.device(b, bob, "b1")
	if _, err := e.db.Exec(ctx, `INSERT INTO keys.groups (id, epoch, epoch_started_at, created_by)
		SELECT 'bench-group-' || lpad(i::text, 6, '0'), 0, $1, $2 FROM generate_series(1, $3) i`, e.clock(), alice, groups); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `INSERT INTO keys.group_members (group_id, device_id, user_id)
		SELECT g.id, d.id, d.user_id FROM keys.groups g, keys.devices d WHERE d.id = ANY($1)`, []int64{a1, b1}); err != nil {
		b.Fatal(err)
	}
	e.advance(2 * time.Hour)
	for b.Loop() {
		b.StopTimer()
		if _, err := e.db.Exec(ctx, `UPDATE keys.groups SET age_announced_epoch = NULL`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := e.svc.SweepDueByAge(ctx); err != nil || n != groups {
			b.Fatalf("swept %d groups: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*groups), "µs/group")
}

type discard struct{}

func (discard) Notify(context.Context, model.KeyNotice) error { return nil }
