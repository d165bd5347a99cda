package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/controllers/httpapi"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

// client talks to a server started with PARLEY_TRUSTED_PROXIES=127.0.0.1, posing as the address ip, and keeps
// the device cookie it is given, like a browser.
type client struct {
	s      *testserver.Server
	ip     string
	device string
}

func (c *client) post(t *testing.T, path string, body any) testserver.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.s.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", c.ip)
	if c.device != "" {
		req.AddCookie(&http.Cookie{Name: httpapi.DeviceCookie, Value: c.device})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.Name == httpapi.DeviceCookie {
			c.device = ck.Value
		}
	}
	return testserver.Response{Status: res.StatusCode, Header: res.Header, Body: out}
}

func (c *client) login(t *testing.T, login, password string) int {
	t.Helper()
	return c.post(t, "/api/auth/login", map[string]string{"login": login, "password": password}).Status
}

const goodPassword = "correct horse battery"

// Finding 11: five wrong passwords for someone's username used to lock the owner out. Failures now count per
// (address, account) strictly, and per account (username and email together) only for devices the account does
// not know; the owner's known devices have limits of their own.
func TestLoginLockoutSparesTheOwner(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"}})
	owner := &client{s: s, ip: "198.51.100.1"}
	res := owner.post(t, "/api/auth/register", map[string]string{"username": "frank", "email": "frank@example.com", "password": goodPassword})
	if res.Status != http.StatusCreated || owner.device == "" {
		t.Fatalf("register: %d %s (device cookie %q)", res.Status, res.Body, owner.device)
	}
	ck := res.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/api/auth"} {
		if !strings.Contains(ck, attr) {
			t.Errorf("device cookie lacks %s: %s", attr, ck)
		}
	}

	// One address: five failures, then 429 — also when switching to the email, and for the right password.
	attacker := &client{s: s, ip: "203.0.113.1"}
	for i := 0; i < 5; i++ {
		if code := attacker.login(t, "frank", "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	for _, login := range []string{"frank@example.com", "FRANK"} {
		if code := attacker.login(t, login, "wrong password!"); code != http.StatusTooManyRequests {
			t.Fatalf("%s after five failures as frank: %d", login, code)
		}
	}
	// The owner, on a new device elsewhere, is not locked out.
	laptop := &client{s: s, ip: "198.51.100.2"}
	if code := laptop.login(t, "frank", goodPassword); code != http.StatusOK || laptop.device == "" {
		t.Fatalf("owner on a new device after a stranger's failures: %d", code)
	}

	// Many addresses: the account-wide limit (10 failures) stops devices frank's account does not know...
	for i := 0; i < 6; i++ {
		bot := &client{s: s, ip: fmt.Sprintf("203.0.113.%d", 10+i)}
		bot.login(t, "frank@example.com", "wrong password!")
	}
	stranger := &client{s: s, ip: "203.0.113.99"}
	res = stranger.post(t, "/api/auth/login", map[string]string{"login": "frank", "password": goodPassword})
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("unknown device during a distributed attack: %d %s", res.Status, res.Body)
	}
	// ...a forged device token, or another account's, counts as unknown...
	other := &client{s: s, ip: "198.51.100.9"}
	if res := other.post(t, "/api/auth/register", map[string]string{"username": "grace", "email": "grace@example.com", "password": goodPassword}); res.Status != http.StatusCreated {
		t.Fatal(res.Status)
	}
	for _, forged := range []string{other.device, owner.device[:len(owner.device)-2] + "AA", "d1.1.x.99999999999.sig"} {
		c := &client{s: s, ip: "198.51.100.50", device: forged}
		if code := c.login(t, "frank", goodPassword); code != http.StatusTooManyRequests {
			t.Errorf("device token %q let in: %d", forged, code)
		}
	}
	// ...while frank's own devices still log in.
	for _, c := range []*client{owner, laptop} {
		if code := c.login(t, "frank", goodPassword); code != http.StatusOK {
			t.Fatalf("owner's known device (%s) during a distributed attack: %d", c.ip, code)
		}
	}
	// A stolen device token still allows only a few guesses, and only on that device.
	thief := &client{s: s, ip: "203.0.113.200", device: laptop.device}
	for i := 0; i < 5; i++ {
		thief.login(t, "frank", "wrong password!")
	}
	thief.ip = "203.0.113.201"
	if code := thief.login(t, "frank", "wrong password!"); code != http.StatusTooManyRequests {
		t.Fatalf("sixth guess with one device token: %d", code)
	}
	if code := owner.login(t, "frank", goodPassword); code != http.StatusOK {
		t.Fatalf("the owner's other device: %d", code)
	}

	// Unknown names are limited the same way, so a limit does not tell whether an account exists.
	prober := &client{s: s, ip: "203.0.113.150"}
	for i := 0; i < 5; i++ {
		if code := prober.login(t, "nobody-here", "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("unknown name %d: %d", i, code)
		}
	}
	if code := prober.login(t, "nobody-here", "wrong password!"); code != http.StatusTooManyRequests {
		t.Fatalf("sixth try of an unknown name: %d", code)
	}
}

// Finding 13: registration said whether an email has an account. The answer no longer names the email, and such
// refusals are limited per address; a taken username is still named, usernames being public in a chat.
func TestRegistrationDoesNotNameATakenEmail(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_REGISTER_BURST": "100"}})
	s.Register(t, "ivy")
	s.Register(t, "jack")
	register := func(username, email string) testserver.Response {
		return s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": username, "email": email, "password": goodPassword})
	}
	first := register("newcomer1", "ivy@example.com")
	second := register("newcomer2", "JACK@example.com")
	if first.Status != http.StatusConflict || first.Stable() != second.Stable() {
		t.Fatalf("taken emails: %d %s / %s", first.Status, first.Body, second.Body)
	}
	if body := strings.ToLower(string(first.Body)); strings.Contains(body, "email") || strings.Contains(body, "field") {
		t.Fatalf("the answer names the email: %s", first.Body)
	}
	// Taken usernames do not count towards the limit.
	for i := 0; i < 6; i++ {
		if res := register("ivy", fmt.Sprintf("other%d@example.com", i)); res.Status != http.StatusConflict || !strings.Contains(string(res.Body), `"field":"username"`) {
			t.Fatalf("taken username %d: %d %s", i, res.Status, res.Body)
		}
	}
	for i := 0; i < 3; i++ {
		register(fmt.Sprintf("probe%d", i), "ivy@example.com")
	}
	// Five refusals: this address may not probe further, not even with a fresh email.
	for _, email := range []string{"jack@example.com", "fresh@example.com"} {
		res := register("probe9", email)
		if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s after five refusals: %d %s", email, res.Status, res.Body)
		}
	}
}

// Finding 14: a token whose sid is one user's session and whose sub is another user was accepted as the other
// user. Forged here with the test signing key (only someone holding the key could do this).
func TestATokenMustNameItsOwnSession(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice := s.Register(t, "alice")
	bob := s.Register(t, "bob")
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(alice.AccessToken, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = bob.ID
	forged := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims)
	// Alice's own token works (the session is live and cached): only the mismatch is refused.
	if res := s.Do(t, "GET", "/api/users/me", alice.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("alice: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/users/me", forged, nil); res.Status != http.StatusUnauthorized || res.ErrorCode() != "unauthorized" {
		t.Fatalf("alice's session as bob over REST: %d %s", res.Status, res.Body)
	}
	b := jsclient.Start(t)
	c := b.Connect(s.URL, forged, jsclient.Options{NoReconnect: true})
	if _, err := c.WaitConnectError(15 * time.Second); err != nil {
		t.Fatalf("alice's session as bob over the socket: %v", err)
	}
	ok := b.Connect(s.URL, bob.AccessToken, jsclient.Options{NoReconnect: true})
	if _, err := ok.WaitConnected(1, 15*time.Second); err != nil {
		t.Fatalf("bob's own token: %v", err)
	}
}

// Finding 9: avatars may only be images Parley stores, on its own origin; foreign URLs stored before are not
// served.
func TestAvatarsComeOnlyFromOurOrigin(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	kim := s.Register(t, "kim")
	for _, bad := range []string{"https://evil.example/a.png", "http://10.0.0.1/admin", "//evil.example/a.png", "/avatars/../api/x",
		"/avatars/", "/other/a.png", "data:image/png;base64,AAAA", "/avatars/a.png?x=1", "/avatars/a\\b"} {
		res := s.Do(t, "PATCH", "/api/users/me", kim.AccessToken, map[string]string{"avatarUrl": bad})
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"avatarUrl"`) {
			t.Errorf("%q: %d %s", bad, res.Status, res.Body)
		}
	}
	for _, good := range []string{"/avatars/kim.png", "/avatars/0f3a9c", ""} {
		res := s.Do(t, "PATCH", "/api/users/me", kim.AccessToken, map[string]string{"avatarUrl": good})
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"avatarUrl":"`+good+`"`) {
			t.Errorf("%q: %d %s", good, res.Status, res.Body)
		}
	}
	// A foreign URL already in the database (accepted before this rule) is served as no avatar, everywhere.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.Config.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "UPDATE users SET avatar_url = 'http://169.254.169.254/latest' WHERE username = 'kim'"); err != nil {
		t.Fatal(err)
	}
	srv := s.Do(t, "POST", "/api/servers", kim.AccessToken, map[string]string{"name": "Kim's"})
	var created struct{ ID string }
	srv.JSON(t, &created)
	for _, path := range []string{"/api/users/me", "/api/users/" + kim.ID, "/api/users?query=kim", "/api/servers/" + created.ID + "/members"} {
		res := s.Do(t, "GET", path, kim.AccessToken, nil)
		if res.Status != http.StatusOK || strings.Contains(string(res.Body), "169.254") || !strings.Contains(string(res.Body), `"avatarUrl":""`) {
			t.Errorf("%s: %d %s", path, res.Status, res.Body)
		}
	}
}

// Finding 10: display names cannot carry characters that reorder the text around them or hide in a look-alike.
func TestDisplayNamesRefuseBidiAndInvisibleCharacters(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	lee := s.Register(t, "lee")
	for _, bad := range []string{"\u202Eowner", "own\u200Ber", "a\u2066b\u2069", "x\u200Fy", "\ufeffadmin"} {
		res := s.Do(t, "PATCH", "/api/users/me", lee.AccessToken, map[string]string{"displayName": bad})
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"displayName"`) {
			t.Errorf("%q: %d %s", bad, res.Status, res.Body)
		}
	}
	for _, good := range []string{"سلام عليكم", "👩‍💻 Lee", "Zoë"} { // right-to-left text and ZWJ emoji are fine
		if res := s.Do(t, "PATCH", "/api/users/me", lee.AccessToken, map[string]string{"displayName": good}); res.Status != http.StatusOK {
			t.Errorf("%q: %d %s", good, res.Status, res.Body)
		}
	}
}

// Finding 8: every answer (the app, the API, errors, probes) carries the browser protections.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	acc := s.Register(t, "mia")
	for _, path := range []string{"/", "/channels/@me", "/api/users/me", "/api/nope", "/readyz", "/socket.io/?EIO=4&transport=polling"} {
		res := s.Do(t, "GET", path, "", nil)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "object-src 'none'", "img-src 'self' data: blob:", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-eval") || strings.Contains(strings.Split(strings.Split(csp, "script-src")[1], ";")[0], "unsafe-inline") {
			t.Errorf("%s: scripts not strict: %s", path, csp)
		}
		for name, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if h.Get("Permissions-Policy") == "" {
			t.Errorf("%s: no Permissions-Policy", path)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	if res := s.Do(t, "GET", "/api/users/me", acc.AccessToken, nil); res.Header.Get("Content-Security-Policy") == "" {
		t.Error("authenticated answer without CSP")
	}
	tls := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_PUBLIC_ORIGIN": "https://chat.example.com", "PARLEY_HSTS_MAX_AGE": "8760h"}})
	if got := tls.Do(t, "GET", "/healthz", "", nil).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Fatalf("HSTS behind TLS: %q", got)
	}
}

// Finding 7, on the real server: a trickled body is cut, an idle keep-alive is closed, a poll of an unknown or
// ended session is answered at once, and a long-poll still waits longer than the body timeout.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_HTTP_BODY_TIMEOUT": "1s", "PARLEY_HTTP_IDLE_TIMEOUT": "1s"}})
	addr := strings.TrimPrefix(s.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"login\":", addr)
	go func() { // the rest of the body, a byte a second
		for i := 0; i < 10; i++ {
			time.Sleep(time.Second)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("trickled body: %v after %v", err, time.Since(start))
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "did not arrive in time") || time.Since(start) > 4*time.Second {
		t.Fatalf("trickled body: %d %s after %v", res.StatusCode, b, time.Since(start))
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	ir := bufio.NewReader(idle)
	if res, err := http.ReadResponse(ir, nil); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	} else {
		_, _ = io.Copy(io.Discard, res.Body)
	}
	start = time.Now()
	_ = idle.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := ir.ReadByte(); err != io.EOF || time.Since(start) > 4*time.Second {
		t.Fatalf("idle keep-alive: %v after %v", err, time.Since(start))
	}

	get := func(query string) (int, string, time.Duration) {
		start := time.Now()
		res, err := http.Get(s.URL + "/socket.io/?EIO=4&transport=polling" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), time.Since(start)
	}
	if code, body, took := get("&sid=unknownunknownunkn"); code != http.StatusBadRequest || took > time.Second {
		t.Fatalf("unknown session: %d %s after %v", code, body, took)
	}
	code, open, _ := get("")
	if code != http.StatusOK || !strings.HasPrefix(open, "0{") {
		t.Fatalf("handshake: %d %s", code, open)
	}
	var hs struct{ SID string }
	_ = json.Unmarshal([]byte(open[1:]), &hs)
	post := func(payload string) {
		res, err := http.Post(s.URL+"/socket.io/?EIO=4&transport=polling&sid="+hs.SID, "text/plain;charset=UTF-8", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	// A long-poll outlives the 1 s body timeout: it is answered when the server has something, 2 s later.
	go func() { time.Sleep(2 * time.Second); post(`40{"token":"not-a-token"}`) }()
	if code, body, took := get("&sid=" + hs.SID); code != http.StatusOK || !strings.HasPrefix(body, "44") || took < 1500*time.Millisecond {
		t.Fatalf("long-poll: %d %q after %v", code, body, took)
	}
	post("1") // the client closes the session: its next poll is answered at once
	for i := 0; i < 2; i++ {
		if _, body, took := get("&sid=" + hs.SID); took > time.Second {
			t.Fatalf("poll %d of an ended session: %q after %v", i, body, took)
		}
	}
}
