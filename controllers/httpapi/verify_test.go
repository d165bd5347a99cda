package httpapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
)

// mailbox reads the .eml files the server writes with PARLEY_MAIL_DIR.
type mailbox string

func (m mailbox) to(t *testing.T, addr string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(string(m), "*.eml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(string(b)), "\nto: <"+strings.ToLower(addr)+">") {
			out = append(out, string(b))
		}
	}
	return out
}

// wait returns the mails to addr once there are n of them (they are sent after the answer).
func (m mailbox) wait(t *testing.T, addr string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := m.to(t, addr); len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d mails to %s, want %d", len(got), addr, n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var linkRE = regexp.MustCompile(`(http://[^\s]+)/verify-email\?token=([A-Za-z0-9_-]+)`)

// Finding 13, closed where mail is configured: registration mails a link and answers the same whether or not the
// address has an account; the account exists only once the link is opened, and a link works once.
func TestRegistrationWithEmailVerification(t *testing.T) {
	t.Parallel()
	box := mailbox(t.TempDir())
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_REGISTRATION": "verify", "PARLEY_MAIL_DIR": string(box), "PARLEY_REGISTER_BURST": "100"}})
	register := func(username, email string) testserver.Response {
		return s.Do(t, "POST", "/api/auth/register", "", map[string]string{"username": username, "email": email, "password": goodPassword})
	}
	verify := func(token string) testserver.Response {
		return s.Do(t, "POST", "/api/auth/verify-email", "", map[string]string{"token": token})
	}
	login := func(who string) int {
		return s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": who, "password": goodPassword}).Status
	}
	tokenIn := func(mail string) string {
		t.Helper()
		m := linkRE.FindStringSubmatch(mail)
		if m == nil || m[1] != s.URL {
			t.Fatalf("no link to %s/verify-email in: %s", s.URL, mail)
		}
		return m[2]
	}

	res := register("ivy", "ivy@example.com")
	if res.Status != http.StatusAccepted || string(res.Body) != `{"email":"ivy@example.com","verification":"sent"}` {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	if code := login("ivy"); code != http.StatusUnauthorized {
		t.Fatalf("login before the link was opened: %d", code)
	}
	token := tokenIn(box.wait(t, "ivy@example.com", 1)[0])
	want(t, verify("not-a-token"), 404, "not_found")
	want(t, verify(""), 400, "invalid_input")
	res = verify(token)
	want(t, res, 201, "")
	var created struct {
		User                      struct{ Username, Email string }
		AccessToken, RefreshToken string
	}
	res.JSON(t, &created)
	if created.User.Username != "ivy" || created.User.Email != "ivy@example.com" || created.AccessToken == "" || created.RefreshToken == "" {
		t.Fatalf("verified: %s", res.Body)
	}
	if !strings.Contains(res.Header.Get("Set-Cookie"), "parley_device=") {
		t.Fatal("no device cookie after verifying")
	}
	want(t, s.Do(t, "GET", "/api/users/me", created.AccessToken, nil), 200, "")
	if code := login("ivy@example.com"); code != http.StatusOK {
		t.Fatalf("login after verifying: %d", code)
	}
	want(t, verify(token), 404, "not_found") // a link works once

	// A taken address gets the same answer as a free one; its owner is told by mail, and no link exists for it.
	taken, free := register("newcomer", "IVY@example.com"), register("newcomer2", "fresh@example.com")
	if taken.Status != free.Status || strings.Replace(string(taken.Body), "IVY@example.com", "fresh@example.com", 1) != string(free.Body) {
		t.Fatalf("taken %d %s / free %d %s", taken.Status, taken.Body, free.Status, free.Body)
	}
	notice := box.wait(t, "ivy@example.com", 2)
	tried := ""
	for _, m := range notice {
		if strings.Contains(m, "Someone tried") {
			tried = m
		}
	}
	if tried == "" || linkRE.MatchString(tried) || !strings.Contains(tried, s.URL+"/login") {
		t.Fatalf("the owner's notice: %q", notice)
	}
	box.wait(t, "fresh@example.com", 1)
	if code := login("newcomer"); code != http.StatusUnauthorized {
		t.Fatalf("a registration with a taken address made an account: login %d", code)
	}

	// Usernames are public: a taken one is named at once. One that two people registered goes to the first link opened.
	if res := register("IVY", "other@example.com"); res.Status != http.StatusConflict || !strings.Contains(string(res.Body), `"field":"username"`) {
		t.Fatalf("taken username: %d %s", res.Status, res.Body)
	}
	register("twin", "twin1@example.com")
	register("twin", "twin2@example.com")
	first, second := tokenIn(box.wait(t, "twin1@example.com", 1)[0]), tokenIn(box.wait(t, "twin2@example.com", 1)[0])
	want(t, verify(second), 201, "")
	if res := verify(first); res.Status != http.StatusConflict || !strings.Contains(string(res.Body), `"field":"username"`) {
		t.Fatalf("the second twin: %d %s", res.Status, res.Body)
	}

	// Nobody can mail-bomb an address through registration: 3 mails at once per address, then one per 20 minutes.
	for i := 0; i < 4; i++ {
		register("bomb"+string(rune('a'+i)), "target@example.com")
	}
	time.Sleep(300 * time.Millisecond)
	box.wait(t, "target@example.com", 3)
}
