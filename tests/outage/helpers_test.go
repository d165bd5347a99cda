package outage

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
)

// repoRoot is the repository's top folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// runStack runs script (after scripts/lib.sh is sourced) with extra environment: a private instance of one
// store, with its own LOCAL folder and ports, so the rest of the suite keeps the main stack.
//
// The private ports sit below Linux's ephemeral range (32768-60999): while a store is down, the server keeps
// dialing its port, and the kernel hands out source ports for one destination in sequence, so a dial soon
// connects the port to itself (TCP simultaneous open). Go drops such a connection at once, but its TIME_WAIT
// holds the port for 60 s and the store could not listen on it again (seen in CI: Postgres "Address already in
// use" on restart).
func runStack(t *testing.T, script string, env ...string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "source scripts/lib.sh && "+script)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
}

// twoMembers makes a server owned by alice that bob joined, and returns its #general.
func twoMembers(t *testing.T, s *testserver.Server, alice, bob testserver.Account) (serverID, general string) {
	t.Helper()
	var srv struct{ ID string }
	s.Do(t, "POST", "/api/servers", alice.AccessToken, map[string]string{"name": "Outage"}).JSON(t, &srv)
	var inv struct{ Code string }
	s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", alice.AccessToken, nil).JSON(t, &inv)
	if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", bob.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("join: %d %s", res.Status, res.Body)
	}
	var chans struct{ Channels []struct{ ID string } }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", alice.AccessToken, nil).JSON(t, &chans)
	return srv.ID, chans.Channels[0].ID
}
