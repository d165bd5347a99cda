package outage

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

const privatePGPort = "25532"

// pgStack runs a function of scripts/stack/postgres.sh against a private Postgres (own port and data), so the
// rest of the suite and FerretDB, which use the main one, run undisturbed.
func pgStack(t *testing.T, fn string) {
	t.Helper()
	runStack(t, "source scripts/stack/postgres.sh && "+fn, "LOCAL="+filepath.Join(repoRoot(), ".local", "outage-postgres"), "PG_PORT="+privatePGPort)
}

// outageLength: 35 s in `make test` (past the 10 s access and 30 s session caches); PARLEY_OUTAGE_SECONDS=60
// for the full minute.
func outageLength() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("PARLEY_OUTAGE_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 35 * time.Second
}

// With Postgres stopped, connected people keep talking in the channels they had, a socket that reconnects gets
// its rooms back, and what needs Postgres (a login, a new invite) fails with a clear `unavailable`; when it
// returns, everything works again without a restart. Every acknowledged message is stored once.
func TestPostgresOutageKeepsConversationsGoing(t *testing.T) {
	t.Parallel()
	pgStack(t, "postgres_install >/dev/null && postgres_start")
	t.Cleanup(func() { pgStack(t, "postgres_stop") })
	s := testserver.Start(t, testserver.Options{PGURL: "postgres://postgres@127.0.0.1:" + privatePGPort + "/postgres?sslmode=disable",
		Env: map[string]string{"PARLEY_SEND_RATE": "100", "PARLEY_SEND_BURST": "100"}})
	run := time.Now().UnixNano() % 1e9 // the private cluster keeps its data between runs
	alice, bob := s.Register(t, fmt.Sprint("alice", run)), s.Register(t, fmt.Sprint("bob", run))
	serverID, general := twoMembers(t, s, alice, bob)

	b := jsclient.Start(t)
	connect := func(token string) *jsclient.Client {
		c := b.Connect(s.URL, token, jsclient.Options{})
		if _, err := c.WaitConnected(1, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := connect(alice.AccessToken), connect(bob.AccessToken)
	for i, c := range []*jsclient.Client{ca, cb} { // warm: each has sent once before the outage
		if _, _, err := c.SendRetrying(general, "before", fmt.Sprint("pre-", i), 5, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}

	pgStack(t, "postgres_stop")
	restarted := false
	defer func() {
		if !restarted {
			pgStack(t, "postgres_start")
		}
	}()
	down := time.Now()

	// Both keep sending, one message every 250 ms each, retried with the same nonce until acknowledged.
	var mu sync.Mutex
	acked := map[string]string{} // nonce → id
	slowest := time.Duration(0)
	var wg sync.WaitGroup
	stop := down.Add(outageLength())
	for k, c := range []*jsclient.Client{ca, cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				nonce := fmt.Sprintf("out-%d-%d", k, i)
				start := time.Now()
				a, _, err := c.SendRetrying(general, nonce, nonce, 40, 250*time.Millisecond)
				if err != nil {
					t.Errorf("send during the outage: %v", err)
					return
				}
				mu.Lock()
				acked[nonce] = a.Message.ID
				slowest = max(slowest, time.Since(start))
				mu.Unlock()
				time.Sleep(250 * time.Millisecond)
			}
		}()
	}

	// Meanwhile: what needs Postgres says so clearly; a reconnecting socket gets its rooms back.
	time.Sleep(2 * time.Second)
	if res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": alice.Username, "password": testserver.Password}); res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "unavailable") {
		t.Errorf("login during the outage: %d %s, want 503 unavailable", res.Status, res.Body)
	}
	if res := s.Do(t, "POST", "/api/servers/"+serverID+"/invites", alice.AccessToken, nil); res.Status != http.StatusServiceUnavailable {
		t.Errorf("new invite during the outage: %d %s, want 503", res.Status, res.Body)
	}
	if res := s.Do(t, "GET", "/readyz", "", nil); res.Status != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), "postgres") {
		t.Errorf("readyz during the outage: %d %s", res.Status, res.Body)
	}
	time.Sleep(outageLength() / 2)
	late := connect(bob.AccessToken) // 15+ s into the outage: the session and room list come from memory
	seenBefore := len(late.Events("message:new"))
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := len(late.Events("message:new")); got <= seenBefore {
		t.Errorf("a socket that connected during the outage received no messages")
	}
	t.Logf("Postgres down %v: %d messages acknowledged, slowest %v", time.Since(down).Round(time.Second), len(acked), slowest.Round(time.Millisecond))
	if slowest > 3*time.Second {
		t.Errorf("a send took %v during the outage; connected users should not notice", slowest)
	}

	pgStack(t, "postgres_start")
	restarted = true
	// Recovery without a restart: a login works again (the pool reconnects).
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := s.Do(t, "POST", "/api/auth/login", "", map[string]string{"login": alice.Username, "password": testserver.Password})
		if res.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login 30 s after Postgres returned: %d %s", res.Status, res.Body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Every acknowledged message is stored once, with the acknowledged id.
	stored := map[string][]string{}
	before := ""
	for {
		var page struct{ Messages []struct{ ID, Nonce string } }
		s.Do(t, "GET", "/api/channels/"+general+"/messages?limit=100"+before, alice.AccessToken, nil).JSON(t, &page)
		for _, m := range page.Messages {
			stored[m.Nonce] = append(stored[m.Nonce], m.ID)
		}
		if len(page.Messages) < 100 {
			break
		}
		before = "&before=" + page.Messages[len(page.Messages)-1].ID
	}
	for nonce, id := range acked {
		if ids := stored[nonce]; len(ids) != 1 || ids[0] != id {
			t.Errorf("nonce %s acknowledged as %s, stored as %v", nonce, id, ids)
		}
	}
}
