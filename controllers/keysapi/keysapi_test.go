package keysapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/controllers/keysapi"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/contract"
	"github.com/parleychat/parley/repositories/keystore"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/keys"
)

// env is a key service over HTTP on a fresh copy of the real Postgres (the chat schema for sessions, the
// `keys` schema for its own data), with a clock the tests move.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	db      *pgxpool.Pool
	tokens  *auth.TokenIssuer
	svc     *keys.Service
	metrics *metrics.Metrics
	mu      sync.Mutex
	now     time.Time
	nextID  int64
}

func newEnv(t *testing.T, pol keys.Policy) *env {
	t.Helper()
	url := testenv.PostgresURL(t)
	if _, err := keystore.Migrate(url); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewBase(1)
	db, err := postgres.OpenObserved(context.Background(), url, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e := &env{t: t, db: db, metrics: m, tokens: auth.NewTokenIssuer([]byte("0123456789abcdef0123456789abcdef"), "parley", "parley-api", time.Hour),
		now: time.Now(), nextID: 1000}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = keys.New(keystore.New(db), nil, pol, log, keys.WithClock(e.clock))
	// Every answer is checked against docs/keys-openapi.yaml; mismatches fail the test once the server closed.
	chk, err := contract.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range chk.Problems() {
			t.Errorf("API contract: %s", p)
		}
		if chk.Checked() == 0 {
			t.Error("no answer was checked against docs/keys-openapi.yaml")
		}
	})
	h := keysapi.New(e.svc, keys.NewAuthenticator(e.tokens, keystore.NewSessions(db)), []string{"http://app.test"}, log)
	e.srv = httptest.NewServer(chk.Middleware(keysapi.Instrument(h, m, m.Handler())))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

type user struct {
	id    int64
	sid   int64
	token string
}

// newUser creates a real user row and a live session, and signs an access token for it.
func (e *env) newUser() user {
	e.t.Helper()
	e.mu.Lock()
	e.nextID += 2
	uid, sid := e.nextID, e.nextID+1
	e.mu.Unlock()
	ctx := context.Background()
	name := fmt.Sprintf("u%d", uid)
	if _, err := e.db.Exec(ctx, `INSERT INTO users (id, username, email, password_hash) VALUES ($1, $2, $3, 'x')`, uid, name, name+"@example.test"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')`, sid, uid); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(uid, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return user{id: uid, sid: sid, token: tok}
}

type resp struct {
	status int
	body   map[string]any
}

func (r resp) errCode() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		return e["code"].(string)
	}
	return ""
}

func (e *env) do(u user, method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := resp{status: res.StatusCode, body: map[string]any{}}
	_ = json.NewDecoder(res.Body).Decode(&out.body)
	return out
}

func (e *env) must(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %v", r.status, status, r.body)
	}
	return r
}

func rnd(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func (e *env) device(u user) string {
	e.t.Helper()
	r := e.must(e.do(u, "POST", "/v1/devices", map[string]any{"name": "Chromium", "signatureKey": b64(rnd(32))}), 201)
	return r.body["device"].(map[string]any)["id"].(string)
}

func (e *env) publish(u user, dev string, n int, lastResort bool) resp {
	kps := []string{}
	for i := 0; i < n; i++ {
		kps = append(kps, b64(append([]byte(fmt.Sprintf("kp-%s-%03d-", dev, i)), rnd(40)...)))
	}
	body := map[string]any{"keyPackages": kps}
	if lastResort {
		body["lastResort"] = b64(append([]byte("last-resort-"+dev+"-"), rnd(40)...))
	}
	return e.do(u, "POST", "/v1/devices/"+dev+"/key-packages", body)
}

func groupID() string { return base64.RawURLEncoding.EncodeToString(rnd(16)) }

func group(r resp) map[string]any { return r.body["group"].(map[string]any) }

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice := e.newUser()
	e.must(e.do(user{}, "GET", "/v1/devices", nil), 401)
	e.must(e.do(user{token: "garbage"}, "GET", "/v1/devices", nil), 401)
	other := auth.NewTokenIssuer([]byte("another-key-another-key-another-key!"), "parley", "parley-api", time.Hour)
	forged, _, _ := other.Issue(alice.id, alice.sid)
	e.must(e.do(user{token: forged}, "GET", "/v1/devices", nil), 401)
	// A token naming another user's session is refused.
	bob := e.newUser()
	mixed, _, _ := e.tokens.Issue(alice.id, bob.sid)
	e.must(e.do(user{token: mixed}, "GET", "/v1/devices", nil), 401)
	e.must(e.do(alice, "GET", "/v1/devices", nil), 200)
	// A revoked session (chat server logout) ends access to the key service too (new sessions are not cached).
	carol := e.newUser()
	if _, err := e.db.Exec(context.Background(), `UPDATE sessions SET revoked_at = now() WHERE id = $1`, carol.sid); err != nil {
		t.Fatal(err)
	}
	if r := e.do(carol, "GET", "/v1/devices", nil); r.status != 401 {
		t.Fatalf("revoked session: %d", r.status)
	}
	// CORS: the web app's origin may call the service, another origin gets no CORS grant.
	for origin, want := range map[string]string{"http://app.test": "http://app.test", "http://evil.test": ""} {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/v1/devices", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Fatalf("CORS for %s: %q, want %q", origin, got, want)
		}
	}
}

func TestDevicesAndKeyPackages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice, bob := e.newUser(), e.newUser()
	a1 := e.device(alice)
	// Bad input is refused with a clear error.
	if r := e.do(alice, "POST", "/v1/devices", map[string]any{"name": "", "signatureKey": b64(rnd(32))}); r.status != 400 || r.errCode() != "invalid_input" {
		t.Fatalf("empty name: %v", r)
	}
	if r := e.do(alice, "POST", "/v1/devices", map[string]any{"name": "x", "signatureKey": "not base64!"}); r.status != 400 {
		t.Fatalf("bad base64: %v", r)
	}
	if r := e.do(alice, "POST", "/v1/devices", map[string]any{"name": "x", "signatureKey": b64(rnd(32)), "extra": 1}); r.status != 400 {
		t.Fatalf("unknown field: %v", r)
	}
	// Only for one's own devices.
	if r := e.publish(bob, a1, 3, true); r.status != 404 {
		t.Fatalf("bob published for alice's device: %v", r)
	}
	if r := e.do(alice, "POST", "/v1/devices/"+a1+"/key-packages", map[string]any{"keyPackages": []string{b64([]byte("short"))}}); r.status != 400 {
		t.Fatalf("tiny key package: %v", r)
	}
	if r := e.must(e.publish(alice, a1, 3, true), 200); r.body["keyPackages"].(float64) != 3 {
		t.Fatalf("count: %v", r.body)
	}
	list := e.must(e.do(alice, "GET", "/v1/devices", nil), 200).body["devices"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["keyPackages"].(float64) != 3 {
		t.Fatalf("devices: %v", list)
	}
	if got := e.must(e.do(bob, "GET", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/devices", nil), 200).body["devices"].([]any); len(got) != 1 {
		t.Fatalf("alice's devices as bob sees them: %v", got)
	}

	// Claims: each one-time package once, in order, then the last-resort one (kept).
	b1 := e.device(bob)
	claim := func() map[string]any {
		r := e.must(e.do(bob, "POST", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", map[string]any{"deviceId": b1}), 200)
		kps := r.body["keyPackages"].([]any)
		if len(kps) != 1 {
			t.Fatalf("claimed %d packages", len(kps))
		}
		return kps[0].(map[string]any)
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		kp := claim()
		if kp["lastResort"].(bool) || seen[kp["data"].(string)] {
			t.Fatalf("claim %d: %v", i, kp)
		}
		seen[kp["data"].(string)] = true
	}
	for i := 0; i < 2; i++ {
		if kp := claim(); !kp["lastResort"].(bool) {
			t.Fatalf("expected the last-resort package: %v", kp)
		}
	}
	// Claiming with someone else's device is refused.
	if r := e.do(alice, "POST", "/v1/users/"+strconv.FormatInt(bob.id, 10)+"/key-packages/claim", map[string]any{"deviceId": b1}); r.status != 404 {
		t.Fatalf("claim with bob's device as alice: %v", r)
	}

	// Removing a device: gone from the list, its packages are no longer handed out.
	e.must(e.do(bob, "DELETE", "/v1/devices/"+a1, nil), 404)
	e.must(e.do(alice, "DELETE", "/v1/devices/"+a1, nil), 200)
	e.must(e.do(alice, "DELETE", "/v1/devices/"+a1, nil), 404)
	if r := e.must(e.do(bob, "POST", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", map[string]any{"deviceId": b1}), 200); len(r.body["keyPackages"].([]any)) != 0 {
		t.Fatalf("removed device's package handed out: %v", r.body)
	}
	if r := e.publish(alice, a1, 1, false); r.status != 404 {
		t.Fatalf("publish for a removed device: %v", r)
	}
}

// TestConcurrentClaims: 40 claims race for 10 one-time packages; each package goes out exactly once and every
// other claim gets the last-resort package.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	pol := keys.DefaultPolicy
	pol.ClaimBurst = 100
	e := newEnv(t, pol)
	alice, bob := e.newUser(), e.newUser()
	a1, b1 := e.device(alice), e.device(bob)
	e.must(e.publish(alice, a1, 10, true), 200)
	const claims = 40
	var wg sync.WaitGroup
	results := make(chan map[string]any, claims)
	for i := 0; i < claims; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(bob, "POST", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", map[string]any{"deviceId": b1})
			if r.status != 200 || len(r.body["keyPackages"].([]any)) != 1 {
				t.Errorf("claim: %v", r)
				return
			}
			results <- r.body["keyPackages"].([]any)[0].(map[string]any)
		}()
	}
	wg.Wait()
	close(results)
	oneTime, lastResort := map[string]int{}, 0
	for kp := range results {
		if kp["lastResort"].(bool) {
			lastResort++
		} else {
			oneTime[kp["data"].(string)]++
		}
	}
	for d, n := range oneTime {
		if n != 1 {
			t.Fatalf("key package %s handed out %d times", d[:12], n)
		}
	}
	if len(oneTime) != 10 || lastResort != claims-10 {
		t.Fatalf("one-time %d (want 10), last resort %d (want %d)", len(oneTime), lastResort, claims-10)
	}
}

// TestCommitOrdering: one Commit per epoch; a stale one (and the loser of a race) is refused; Welcomes reach
// the added device only; non-members see nothing.
func TestCommitOrdering(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice, bob, eve := e.newUser(), e.newUser(), e.newUser()
	a1, b1, e1 := e.device(alice), e.device(bob), e.device(eve)
	e.must(e.publish(bob, b1, 1, true), 200)
	gid := groupID()
	if r := e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": "short", "deviceId": a1}); r.status != 400 {
		t.Fatalf("bad group id: %v", r)
	}
	if r := e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": b1}); r.status != 404 {
		t.Fatalf("group created with another user's device: %v", r)
	}
	g := group(e.must(e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1, "channelId": "255387102756212736"}), 201))
	if g["epoch"].(float64) != 0 {
		t.Fatalf("new group: %v", g)
	}
	e.must(e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1}), 409)

	// Alice adds Bob's device: epoch 0 -> 1, Bob gets the Welcome.
	welcome := rnd(64)
	add := map[string]any{"deviceId": a1, "epoch": 0, "commit": b64(rnd(48)), "adds": []string{b1}, "welcome": b64(welcome)}
	if r := e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 0, "commit": b64(rnd(48)), "adds": []string{b1}}); r.status != 400 {
		t.Fatalf("add without a Welcome: %v", r)
	}
	g = group(e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", add), 201))
	if g["epoch"].(float64) != 1 || len(g["members"].([]any)) != 2 {
		t.Fatalf("after add: %v", g)
	}
	ws := e.must(e.do(bob, "GET", "/v1/devices/"+b1+"/welcomes", nil), 200).body["welcomes"].([]any)
	if len(ws) != 1 || ws[0].(map[string]any)["data"].(string) != b64(welcome) || ws[0].(map[string]any)["epoch"].(float64) != 1 {
		t.Fatalf("welcomes: %v", ws)
	}
	wid := ws[0].(map[string]any)["id"].(string)
	e.must(e.do(alice, "GET", "/v1/devices/"+b1+"/welcomes", nil), 404)
	e.must(e.do(alice, "DELETE", "/v1/devices/"+b1+"/welcomes/"+wid, nil), 404)
	e.must(e.do(bob, "DELETE", "/v1/devices/"+b1+"/welcomes/"+wid, nil), 204)
	if ws := e.must(e.do(bob, "GET", "/v1/devices/"+b1+"/welcomes", nil), 200).body["welcomes"].([]any); len(ws) != 0 {
		t.Fatalf("acknowledged welcome still there: %v", ws)
	}

	// The same Commit again (a replay, epoch 0) is stale.
	if r := e.do(alice, "POST", "/v1/groups/"+gid+"/commits", add); r.status != 409 || r.errCode() != "stale_epoch" {
		t.Fatalf("stale commit: %v", r)
	}
	// A race for epoch 1: exactly one of the two Commits wins.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, u := range []struct {
		u   user
		dev string
	}{{alice, a1}, {bob, b1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(u.u, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": u.dev, "epoch": 1, "commit": b64(rnd(48))}).status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 201 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 201) {
		t.Fatalf("concurrent commits for one epoch: %v", statuses)
	}
	cs := e.must(e.do(bob, "GET", "/v1/groups/"+gid+"/commits?since=1", nil), 200).body["commits"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["epoch"].(float64) != 1 {
		t.Fatalf("commits since 1: %v", cs)
	}
	all := e.must(e.do(alice, "GET", "/v1/groups/"+gid+"/commits", nil), 200).body["commits"].([]any)
	if len(all) != 2 {
		t.Fatalf("commit log: %v", all)
	}

	// Eve is no member: the group does not exist for her, and she cannot commit to it.
	e.must(e.do(eve, "GET", "/v1/groups/"+gid, nil), 404)
	e.must(e.do(eve, "GET", "/v1/groups/"+gid+"/commits", nil), 404)
	e.must(e.do(eve, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": e1, "epoch": 2, "commit": b64(rnd(8))}), 404)
	e.must(e.do(eve, "POST", "/v1/groups/"+gid+"/messages", map[string]any{"epoch": 2}), 404)
	// Adding a device twice, or removing a non-member, is refused and changes nothing.
	if r := e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 2, "commit": b64(rnd(8)), "adds": []string{b1}, "welcome": b64(rnd(8))}); r.status != 409 {
		t.Fatalf("re-adding a member: %v", r)
	}
	if r := e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 2, "commit": b64(rnd(8)), "removes": []string{e1}}); r.status != 409 {
		t.Fatalf("removing a non-member: %v", r)
	}
	if g := group(e.must(e.do(alice, "GET", "/v1/groups/"+gid, nil), 200)); g["epoch"].(float64) != 2 {
		t.Fatalf("a refused Commit moved the epoch: %v", g)
	}
	groups := e.must(e.do(bob, "GET", "/v1/groups?channelId=255387102756212736", nil), 200).body["groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["id"] != gid {
		t.Fatalf("bob's groups of channel 42: %v", groups)
	}
	// Bob removes... Alice removes Bob's device: Bob's user can no longer read the group.
	e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 2, "commit": b64(rnd(8)), "removes": []string{b1}}), 201)
	e.must(e.do(bob, "GET", "/v1/groups/"+gid+"/commits", nil), 404)
}

// TestRotationPolicy: by message count, by age, and after a device removal, the service first says a rotation
// is due, then (beyond the grace) refuses application messages until a Commit advances the epoch; after it,
// both members keep sending.
func TestRotationPolicy(t *testing.T) {
	t.Parallel()
	pol := keys.DefaultPolicy
	pol.MaxMessages, pol.GraceMessages = 5, 2
	pol.MaxAge, pol.Grace = 24*time.Hour, time.Hour
	e := newEnv(t, pol)
	alice, bob := e.newUser(), e.newUser()
	a1, b1 := e.device(alice), e.device(bob)
	gid := groupID()
	e.must(e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1}), 201)
	e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 0, "commit": b64(rnd(8)), "adds": []string{b1}, "welcome": b64(rnd(8))}), 201)
	send := func(u user, epoch int) resp {
		return e.do(u, "POST", "/v1/groups/"+gid+"/messages", map[string]any{"epoch": epoch})
	}

	// By messages: 5 are fine, the 5th makes the rotation due, 2 more pass in the grace, the 8th is refused.
	for i := 1; i <= 7; i++ {
		g := group(e.must(send([]user{alice, bob}[i%2], 1), 200))
		if due := g["rotationDue"].(bool); due != (i >= 5) {
			t.Fatalf("message %d: rotationDue=%v", i, due)
		}
	}
	if r := send(alice, 1); r.status != 409 || r.errCode() != "rotation_overdue" {
		t.Fatalf("8th message: %v", r)
	}
	if r := send(bob, 0); r.status != 409 || r.errCode() != "stale_epoch" {
		t.Fatalf("message in an old epoch: %v", r)
	}
	// Bob rotates (an empty Commit); both keep talking.
	g := group(e.must(e.do(bob, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": b1, "epoch": 1, "commit": b64(rnd(8))}), 201))
	if g["epoch"].(float64) != 2 || g["rotationDue"].(bool) || g["messages"].(float64) != 0 {
		t.Fatalf("after rotation: %v", g)
	}
	e.must(send(alice, 2), 200)
	e.must(send(bob, 2), 200)

	// By age: due after a day, refused after the hour of grace, fine again after a Commit.
	e.advance(24*time.Hour + time.Minute)
	g = group(e.must(send(alice, 2), 200))
	if !g["rotationDue"].(bool) || g["dueReason"] != "age" || g["overdue"].(bool) {
		t.Fatalf("after a day: %v", g)
	}
	e.advance(time.Hour)
	if r := send(alice, 2); r.status != 409 || r.errCode() != "rotation_overdue" {
		t.Fatalf("after the grace: %v", r)
	}
	e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 2, "commit": b64(rnd(8))}), 201)
	e.must(send(bob, 3), 200)

	// A member device removed from its owner's list: the membership Commit is due at once, messages are refused
	// after the grace, and the Commit that removes the device clears it.
	e.must(e.do(bob, "DELETE", "/v1/devices/"+b1, nil), 200)
	g = group(e.must(send(alice, 3), 200))
	if !g["rotationDue"].(bool) || g["dueReason"] != "membership" {
		t.Fatalf("after the removal: %v", g)
	}
	e.advance(time.Hour)
	if r := send(alice, 3); r.status != 409 || r.errCode() != "rotation_overdue" {
		t.Fatalf("removal not committed after the grace: %v", r)
	}
	g = group(e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 3, "commit": b64(rnd(8)), "removes": []string{b1}}), 201))
	if g["rotationDue"].(bool) || len(g["members"].([]any)) != 1 {
		t.Fatalf("after removing the device: %v", g)
	}
	e.must(send(alice, 4), 200)
}

// TestClaimRateLimit: one user cannot drain another's key packages: after the burst, claims are refused (429 with
// Retry-After) and nothing more is handed out; other users keep their own budget.
func TestClaimRateLimit(t *testing.T) {
	t.Parallel()
	pol := keys.DefaultPolicy
	pol.ClaimBurst, pol.ClaimEvery = 3, time.Hour
	e := newEnv(t, pol)
	alice, bob, carol := e.newUser(), e.newUser(), e.newUser()
	a1, b1, c1 := e.device(alice), e.device(bob), e.device(carol)
	e.must(e.publish(alice, a1, 10, true), 200)
	claim := func(u user, dev string) resp {
		return e.do(u, "POST", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", map[string]any{"deviceId": dev})
	}
	for i := 0; i < 3; i++ {
		e.must(claim(bob, b1), 200)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", strings.NewReader(`{"deviceId":"`+b1+`"}`))
	req.Header.Set("Authorization", "Bearer "+bob.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("4th claim: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n := e.must(e.do(alice, "GET", "/v1/devices", nil), 200).body["devices"].([]any)[0].(map[string]any)["keyPackages"].(float64); n != 7 {
		t.Fatalf("alice has %v packages left, want 7 (a refused claim took one)", n)
	}
	e.must(claim(carol, c1), 200)
}

// TestKeyPackageCountAndTopUp: a device reads how many one-time packages it has left, claims lower the count,
// a top-up (one-time packages only, the last-resort one kept) raises it again; nobody reads another's count.
func TestKeyPackageCountAndTopUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice, bob := e.newUser(), e.newUser()
	a1, b1 := e.device(alice), e.device(bob)
	count := func() float64 {
		return e.must(e.do(alice, "GET", "/v1/devices/"+a1+"/key-packages/count", nil), 200).body["keyPackages"].(float64)
	}
	if n := count(); n != 0 {
		t.Fatalf("a new device has %v packages", n)
	}
	e.must(e.publish(alice, a1, 4, true), 200)
	claimAlice := func() map[string]any {
		r := e.must(e.do(bob, "POST", "/v1/users/"+strconv.FormatInt(alice.id, 10)+"/key-packages/claim", map[string]any{"deviceId": b1}), 200)
		return r.body["keyPackages"].([]any)[0].(map[string]any)
	}
	for i := 0; i < 3; i++ {
		claimAlice()
	}
	if n := count(); n != 1 {
		t.Fatalf("after 3 of 4 claimed: %v left", n)
	}
	// The top-up: one-time packages only; the count is what the publish answers too.
	if r := e.must(e.publish(alice, a1, 5, false), 200); r.body["keyPackages"].(float64) != 6 {
		t.Fatalf("top-up answered %v", r.body)
	}
	if n := count(); n != 6 {
		t.Fatalf("after the top-up: %v", n)
	}
	for i := 0; i < 6; i++ {
		if kp := claimAlice(); kp["lastResort"].(bool) {
			t.Fatalf("claim %d got the last-resort package with one-time ones left", i)
		}
	}
	if kp := claimAlice(); !kp["lastResort"].(bool) {
		t.Fatal("the last-resort package was lost by the top-up")
	}
	if n := count(); n != 0 {
		t.Fatalf("after every claim: %v", n)
	}
	// Only for one's own active devices.
	if r := e.do(bob, "GET", "/v1/devices/"+a1+"/key-packages/count", nil); r.status != 404 {
		t.Fatalf("bob read alice's count: %v", r)
	}
	if r := e.do(alice, "GET", "/v1/devices/abc/key-packages/count", nil); r.status != 400 {
		t.Fatalf("bad id: %v", r)
	}
	e.must(e.do(alice, "DELETE", "/v1/devices/"+a1, nil), 200)
	if r := e.do(alice, "GET", "/v1/devices/"+a1+"/key-packages/count", nil); r.status != 404 {
		t.Fatalf("removed device's count: %v", r)
	}
}

// TestCommitLogPruning: GET …/commits with the asking device records how far it got; Commits that every member
// device has passed are gone from the log, the rest stay.
func TestCommitLogPruning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, keys.DefaultPolicy)
	alice := e.newUser()
	a1 := e.device(alice)
	gid := groupID()
	e.must(e.do(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1}), 201)
	for epoch := 0; epoch < 3; epoch++ {
		e.must(e.do(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": epoch, "commit": b64(rnd(48))}), 201)
	}
	commits := func(query string) int {
		return len(e.must(e.do(alice, "GET", "/v1/groups/"+gid+"/commits?"+query, nil), 200).body["commits"].([]any))
	}
	if n := commits("since=0"); n != 3 {
		t.Fatalf("log: %d", n)
	}
	if n := commits("since=2&deviceId=" + a1); n != 1 {
		t.Fatalf("from 2: %d", n)
	}
	if n := commits("since=0"); n != 1 {
		t.Fatalf("after the only member reached epoch 2, %d Commits remain, want 1", n)
	}
	if r := e.do(alice, "GET", "/v1/groups/"+gid+"/commits?since=0&deviceId=x", nil); r.status != 400 {
		t.Fatalf("bad deviceId: %v", r)
	}
}
