package outage

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

const privateMongoPort = "27117"

// mongoStack runs a function of scripts/stack/ferretdb.sh against a private FerretDB (own port, own database in
// the main Postgres), so the rest of the suite keeps its MongoDB. The launcher binary is the main stack's (BIN is
// set after lib.sh, which derives it from LOCAL).
func mongoStack(t *testing.T, fn string) {
	t.Helper()
	runStack(t, "BIN="+filepath.Join(repoRoot(), ".local", "bin")+" && source scripts/stack/postgres.sh && source scripts/stack/ferretdb.sh && "+fn,
		"LOCAL="+filepath.Join(repoRoot(), ".local", "outage-mongo"), "FERRETDB_PORT="+privateMongoPort, "FERRETDB_PG_DB=ferretdb_outage")
}

// With MongoDB stopped, messaging goes on untouched (every send acknowledged at once); read positions taken
// meanwhile are kept in memory and written once it returns.
func TestMongoOutageLeavesMessagingAlone(t *testing.T) {
	t.Parallel()
	mongoStack(t, "ferretdb_start")
	t.Cleanup(func() { mongoStack(t, "ferretdb_stop") })
	pg, mdb := testenv.PostgresURL(t), testenv.UniqueName("outage")
	env := map[string]string{"PARLEY_MONGO_URI": "mongodb://127.0.0.1:" + privateMongoPort + "/", "PARLEY_SEND_RATE": "100",
		"PARLEY_SEND_BURST": "100", "PARLEY_STATE_WRITE_INTERVAL": "1s"}
	s := testserver.Start(t, testserver.Options{PGURL: pg, MongoDB: mdb, Env: env})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	serverID, general := twoMembers(t, s, alice, bob)
	b := jsclient.Start(t)
	ca := b.Connect(s.URL, alice.AccessToken, jsclient.Options{})
	cb := b.Connect(s.URL, bob.AccessToken, jsclient.Options{})
	for _, c := range []*jsclient.Client{ca, cb} {
		if _, err := c.WaitConnected(1, 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	mongoStack(t, "ferretdb_stop")
	restarted := false
	defer func() {
		if !restarted {
			mongoStack(t, "ferretdb_start")
		}
	}()
	var mu sync.Mutex
	var last string
	slowest := time.Duration(0)
	stop := time.Now().Add(outageLength())
	for i := 0; time.Now().Before(stop); i++ {
		start := time.Now()
		a, _, err := ca.SendRetrying(general, fmt.Sprint("m", i), fmt.Sprint("mo-", i), 40, 250*time.Millisecond)
		if err != nil {
			t.Fatalf("send during the MongoDB outage: %v", err)
		}
		mu.Lock()
		last, slowest = a.Message.ID, max(slowest, time.Since(start))
		mu.Unlock()
		time.Sleep(250 * time.Millisecond)
	}
	if slowest > 2*time.Second {
		t.Errorf("a send took %v while MongoDB was down; messaging does not need it", slowest)
	}
	// Bob reads up to the newest message while MongoDB is still down.
	var rd map[string]any
	if err := cb.EmitAck("receipt:read", map[string]any{"channelId": general, "messageId": last}, &rd, 10*time.Second); err != nil || rd["ok"] != true {
		t.Fatalf("receipt during the outage: %v %v", err, rd)
	}

	mongoStack(t, "ferretdb_start")
	restarted = true
	// Once it is back, the position is written: a second server on the same databases (which knows only what
	// MongoDB holds) reports it.
	other := testserver.Start(t, testserver.Options{PGURL: pg, MongoDB: mdb, Env: env})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res := other.Do(t, "GET", "/api/servers/"+serverID+"/channels", bob.AccessToken, nil)
		var got struct {
			Channels []struct{ ID, LastReadID string }
		}
		res.JSON(t, &got)
		if len(got.Channels) > 0 && got.Channels[0].LastReadID == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's read position never reached MongoDB after it returned: %s", res.Body)
		}
		time.Sleep(time.Second)
	}
	if res := s.Do(t, "GET", "/readyz", "", nil); res.Status != http.StatusOK || strings.Contains(string(res.Body), "down") {
		t.Errorf("readyz after MongoDB returned: %d %s", res.Status, res.Body)
	}
}
