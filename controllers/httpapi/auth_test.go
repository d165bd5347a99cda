package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/cmd/server/testserver"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

func TestRegister(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})

	res := s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": "Alice", "email": "Alice@Example.com", "password": "correct horse battery"})
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var body struct {
		User struct {
			ID, Username, Email, DisplayName string
		}
		AccessToken, RefreshToken string
	}
	res.JSON(t, &body)
	if body.User.ID == "" || body.User.Username != "Alice" || body.User.Email != "Alice@Example.com" || body.AccessToken == "" || len(body.RefreshToken) < 43 {
		t.Fatalf("unexpected body: %s", res.Body)
	}
	if strings.Contains(string(res.Body), "password") {
		t.Fatal("response leaks the password hash")
	}

	// A taken username is named (usernames are public); a taken email is not (see TestRegistrationDoesNotNameATakenEmail).
	res = s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": "alice", "email": "other@example.com", "password": "correct horse battery"})
	if res.Status != http.StatusConflict || res.ErrorCode() != "conflict" || !strings.Contains(string(res.Body), `"field":"username"`) {
		t.Errorf("same name, other case: %d %s", res.Status, res.Body)
	}
	res = s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": "bob", "email": "ALICE@example.COM", "password": "correct horse battery"})
	if res.Status != http.StatusConflict || res.ErrorCode() != "conflict" || strings.Contains(string(res.Body), "field") {
		t.Errorf("same email, other case: %d %s", res.Status, res.Body)
	}

	invalid := []struct {
		body  any
		field string
	}{
		{map[string]string{"username": "ab", "email": "ab@example.com", "password": "correct horse battery"}, "username"},
		{map[string]string{"username": "has space", "email": "x@example.com", "password": "correct horse battery"}, "username"},
		{map[string]string{"username": strings.Repeat("a", 33), "email": "x@example.com", "password": "correct horse battery"}, "username"},
		{map[string]string{"username": "carol", "email": "not-an-email", "password": "correct horse battery"}, "email"},
		{map[string]string{"username": "carol", "email": "Carol <carol@example.com>", "password": "correct horse battery"}, "email"},
		{map[string]string{"username": "carol", "email": "carol@example.com", "password": "short"}, "password"},
		{map[string]string{"username": "carol", "email": "carol@example.com", "password": strings.Repeat("p", 129)}, "password"},
	}
	for _, c := range invalid {
		res := s.Do(t, "POST", "/api/auth/register", "", c.body)
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"`+c.field+`"`) {
			t.Errorf("%v: %d %s", c.body, res.Status, res.Body)
		}
	}
	if res := s.Do(t, "POST", "/api/auth/register", "", `{"username": 5`); res.Status != http.StatusBadRequest || res.ErrorCode() != "invalid_input" {
		t.Errorf("malformed JSON: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "POST", "/api/auth/register", "", `{"username":"`+strings.Repeat("x", 2<<20)+`"}`); res.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d", res.Status)
	}
}

func TestLoginDoesNotRevealWhichAccountsExist(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	s.Register(t, "dave")

	for _, login := range []string{"dave", "DAVE", "dave@example.com", "Dave@Example.com"} {
		if res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": login, "password": "correct horse battery"}); res.Status != http.StatusOK {
			t.Errorf("login as %s: %d %s", login, res.Status, res.Body)
		}
	}
	timeIt := func(login string) (testserver.Response, time.Duration) {
		start := time.Now()
		res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": login, "password": "wrong password!"})
		return res, time.Since(start)
	}
	wrong, _ := timeIt("dave")
	unknown, _ := timeIt("nobody-here")
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Fatalf("statuses: %d %d", wrong.Status, unknown.Status)
	}
	if wrong.Stable() != unknown.Stable() || wrong.ErrorCode() != "invalid_credentials" {
		t.Fatalf("bodies differ: %s vs %s", wrong.Body, unknown.Body)
	}
}

func TestPasswordsLongerThanBcryptLimitAreNotTruncated(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	long := strings.Repeat("é", 40) + "-end-A" // 86 bytes: beyond bcrypt's 72
	res := s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": "erin", "email": "erin@example.com", "password": long})
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	other := strings.Repeat("é", 40) + "-end-B" // same first 72 bytes
	if res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "erin", "password": other}); res.Status != http.StatusUnauthorized {
		t.Fatalf("a password differing after byte 72 was accepted: %d", res.Status)
	}
	if res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "erin", "password": long}); res.Status != http.StatusOK {
		t.Fatalf("the right password was refused: %d", res.Status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	s.Register(t, "frank")
	var last testserver.Response
	for i := 0; i < 6; i++ {
		last = s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "frank", "password": "wrong password!"})
	}
	if last.Status != http.StatusTooManyRequests || last.ErrorCode() != "rate_limited" || last.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %s Retry-After=%q", last.Status, last.Body, last.Header.Get("Retry-After"))
	}
	// From the same address even the right password waits (the limit per address and account; other addresses
	// and known devices: TestLoginLockoutSparesTheOwner).
	if res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": "frank", "password": "correct horse battery"}); res.Status != http.StatusTooManyRequests {
		t.Fatalf("limited account logged in: %d", res.Status)
	}
	// Registration is limited per address too.
	var reg testserver.Response
	for i := 0; i < 12; i++ {
		reg = s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": "bulk" + string(rune('a'+i)), "email": "bulk" + string(rune('a'+i)) + "@example.com", "password": "correct horse battery"})
	}
	if reg.Status != http.StatusTooManyRequests {
		t.Fatalf("12th registration from one address: %d", reg.Status)
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	acc := s.Register(t, "grace")

	res := s.Do(t, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": acc.RefreshToken})
	if res.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", res.Status, res.Body)
	}
	var rotated struct{ AccessToken, RefreshToken string }
	res.JSON(t, &rotated)
	if rotated.RefreshToken == acc.RefreshToken || rotated.AccessToken == "" {
		t.Fatal("refresh did not rotate the token")
	}
	if res := s.Do(t, "GET", "/api/users/me", rotated.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("new access token refused: %d", res.Status)
	}
	// The old token again: theft. The whole session dies, including the newest tokens.
	if res := s.Do(t, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": acc.RefreshToken}); res.Status != http.StatusUnauthorized {
		t.Fatalf("reused token: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": rotated.RefreshToken}); res.Status != http.StatusUnauthorized {
		t.Fatalf("token of a revoked family still works: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/users/me", rotated.AccessToken, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("access token of a revoked session still works: %d", res.Status)
	}
	for _, bad := range []any{map[string]string{"refreshToken": "made-up"}, map[string]string{}} {
		if res := s.Do(t, "POST", "/api/auth/refresh", "", bad); res.Status != http.StatusUnauthorized {
			t.Errorf("%v: %d", bad, res.Status)
		}
	}
}

func TestLogoutRevokesTheSession(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	acc := s.Register(t, "heidi")
	if res := s.Do(t, "POST", "/api/auth/logout", "", map[string]string{"refreshToken": acc.RefreshToken}); res.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "POST", "/api/auth/refresh", "", map[string]string{"refreshToken": acc.RefreshToken}); res.Status != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/users/me", acc.AccessToken, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("access after logout: %d", res.Status)
	}
	if res := s.Do(t, "POST", "/api/auth/logout", "", map[string]string{"refreshToken": acc.RefreshToken}); res.Status != http.StatusNoContent {
		t.Fatalf("second logout: %d", res.Status)
	}
	if res := s.Do(t, "POST", "/api/auth/logout", "", map[string]string{}); res.Status != http.StatusBadRequest {
		t.Fatalf("logout without token: %d", res.Status)
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// badTokens returns access tokens that must all be refused, by name, plus the one expected error code each.
func badTokens(t *testing.T, acc testserver.Account) map[string][2]string {
	parts := strings.Split(acc.AccessToken, ".")
	var claims jwt.MapClaims
	_, _, err := jwt.NewParser().ParseUnverified(acc.AccessToken, &claims)
	if err != nil {
		t.Fatal(err)
	}
	with := func(changes map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		for k, v := range changes {
			c[k] = v
		}
		return c
	}
	now := time.Now()
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims)
	return map[string][2]string{
		"expired":      {sign(t, jwt.SigningMethodHS256, []byte(testSecret), with(map[string]any{"exp": now.Add(-time.Minute).Unix(), "iat": now.Add(-20 * time.Minute).Unix()})), "token_expired"},
		"forged":       {sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-0000"), claims), "unauthorized"},
		"alg none":     {none, "unauthorized"},
		"tampered":     {parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2], "unauthorized"},
		"wrong issuer": {sign(t, jwt.SigningMethodHS256, []byte(testSecret), with(map[string]any{"iss": "someone-else"})), "unauthorized"},
		"wrong aud":    {sign(t, jwt.SigningMethodHS256, []byte(testSecret), with(map[string]any{"aud": "other-api"})), "unauthorized"},
		"no exp":       {sign(t, jwt.SigningMethodHS256, []byte(testSecret), with(map[string]any{"exp": nil})), "unauthorized"},
		"HS512":        {sign(t, jwt.SigningMethodHS512, []byte(testSecret), claims), "unauthorized"},
		"garbage":      {"not.a.jwt", "unauthorized"},
	}
}

func TestBadAccessTokensAreRejected(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	acc := s.Register(t, "ivan")
	for name, tc := range badTokens(t, acc) {
		res := s.Do(t, "GET", "/api/users/me", tc[0], nil)
		if res.Status != http.StatusUnauthorized || res.ErrorCode() != tc[1] {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
	}
	if res := s.Do(t, "GET", "/api/users/me", "", nil); res.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.Status)
	}
}

func TestProfileAndSearch(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	judy := s.Register(t, "judy")
	s.Register(t, "Judith")
	s.Register(t, "ken")

	res := s.Do(t, "PATCH", "/api/users/me", judy.AccessToken, map[string]string{"displayName": "  Judy H.  ", "avatarUrl": "/avatars/judy-1.png"})
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"displayName":"Judy H."`) || !strings.Contains(string(res.Body), `"avatarUrl":"/avatars/judy-1.png"`) {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	for _, bad := range []map[string]string{{"displayName": ""}, {"displayName": strings.Repeat("x", 65)}, {"displayName": "a\u0007b"}, {"avatarUrl": "javascript:alert(1)"}} {
		if res := s.Do(t, "PATCH", "/api/users/me", judy.AccessToken, bad); res.Status != http.StatusBadRequest {
			t.Errorf("%v accepted: %d", bad, res.Status)
		}
	}
	res = s.Do(t, "GET", "/api/users/me", judy.AccessToken, nil)
	if !strings.Contains(string(res.Body), `"email":"judy@example.com"`) || !strings.Contains(string(res.Body), "Judy H.") {
		t.Fatalf("me: %s", res.Body)
	}
	res = s.Do(t, "GET", "/api/users/"+judy.ID, judy.AccessToken, nil)
	if res.Status != http.StatusOK || strings.Contains(string(res.Body), "email") {
		t.Fatalf("public profile: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/api/users/999", judy.AccessToken, nil); res.Status != http.StatusNotFound {
		t.Errorf("unknown user: %d", res.Status)
	}
	if res := s.Do(t, "GET", "/api/users/abc", judy.AccessToken, nil); res.Status != http.StatusBadRequest {
		t.Errorf("bad id: %d", res.Status)
	}
	res = s.Do(t, "GET", "/api/users?query=JU", judy.AccessToken, nil)
	var found struct{ Users []struct{ Username string } }
	res.JSON(t, &found)
	if len(found.Users) != 2 || found.Users[0].Username != "Judith" || found.Users[1].Username != "judy" {
		t.Fatalf("search: %s", res.Body)
	}
	res = s.Do(t, "GET", "/api/users?query=%25", judy.AccessToken, nil) // a LIKE wildcard must match literally
	res.JSON(t, &found)
	if len(found.Users) != 0 {
		t.Fatalf("wildcard search matched: %s", res.Body)
	}
	if res := s.Do(t, "GET", "/api/users?query=", judy.AccessToken, nil); res.Status != http.StatusBadRequest {
		t.Errorf("empty query: %d", res.Status)
	}
	// Display names are found too (from the start of a word): "H" finds judy ("Judy H.").
	res = s.Do(t, "GET", "/api/users?query=h", judy.AccessToken, nil)
	res.JSON(t, &found)
	if len(found.Users) != 1 || found.Users[0].Username != "judy" {
		t.Fatalf("display-name search: %s", res.Body)
	}
}

func TestHealthAndStatic(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	if res := s.Do(t, "GET", "/healthz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("healthz: %d", res.Status)
	}
	res := s.Do(t, "GET", "/readyz", "", nil)
	for _, db := range []string{"postgres", "mongodb", "cassandra"} {
		if !strings.Contains(string(res.Body), `"`+db+`":{"status":"ok"}`) {
			t.Errorf("readyz misses %s: %s", db, res.Body)
		}
	}
	if res.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/channels/@me", "", nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), "Parley") {
		t.Errorf("app route: %d %s", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/api/nope", "", nil); res.Status != http.StatusNotFound || res.ErrorCode() != "not_found" {
		t.Errorf("unknown API: %d %s", res.Status, res.Body)
	}
}

func TestRateLimitsSeeClientsBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	register := func(s *testserver.Server, i int, forwardedFor string) int {
		name := fmt.Sprintf("proxied%d", i)
		req, _ := http.NewRequest("POST", s.URL+"/api/auth/register", strings.NewReader(
			`{"username":"`+name+`","email":"`+name+`@example.com","password":"correct horse battery"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	trusted := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_TRUSTED_PROXIES": "127.0.0.1"}})
	for i := 0; i < 12; i++ {
		if code := register(trusted, i, fmt.Sprintf("203.0.113.%d", i)); code != http.StatusCreated {
			t.Fatalf("client %d behind a trusted proxy: %d", i, code)
		}
	}
	untrusted := testserver.Start(t, testserver.Options{})
	last := 0
	for i := 0; i < 12; i++ {
		last = register(untrusted, i, fmt.Sprintf("203.0.113.%d", i)) // a forged header must not dodge the limit
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For dodged the limit: %d", last)
	}
}
