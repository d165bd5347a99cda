// Package outage stops a real Cassandra node while users send messages. The node is a private one (own
// ports and data under .local/outage-cassandra), so the rest of the suite, which shares the main node, runs
// undisturbed.
package outage

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

const privatePort = "29142"

// stack runs a function of scripts/stack/cassandra.sh against the private node.
func stack(t *testing.T, fn string) {
	t.Helper()
	runStack(t, "source scripts/stack/cassandra.sh && "+fn, "LOCAL="+filepath.Join(repoRoot(), ".local", "outage-cassandra"),
		"CASSANDRA_PORT="+privatePort, "CASSANDRA_STORAGE_PORT=27100", "CASSANDRA_JMX_PORT=27299", "CASSANDRA_HEAP=512M")
}

type ack struct {
	OK      bool
	Message struct{ ID string }
	Error   struct {
		Code      string
		Retryable bool
	}
}

func TestCassandraOutageLosesNoAcknowledgedMessage(t *testing.T) {
	t.Parallel()
	stack(t, "cassandra_install >/dev/null && cassandra_start")
	t.Cleanup(func() { stack(t, "cassandra_stop") })
	const queueLimit = 30
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_CASSANDRA_HOSTS": "127.0.0.1:" + privatePort, "PARLEY_CASSANDRA_KEYSPACE": "outage",
		"PARLEY_QUEUE_LIMIT": fmt.Sprint(queueLimit), "PARLEY_SEND_RATE": "10000", "PARLEY_SEND_BURST": "10000"}})
	alice := s.Register(t, "alice")
	res := s.Do(t, "POST", "/api/servers", alice.AccessToken, map[string]string{"name": "Outage"})
	var srv struct{ ID string }
	res.JSON(t, &srv)
	res = s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", alice.AccessToken, nil)
	var chans struct{ Channels []struct{ ID string } }
	res.JSON(t, &chans)
	general := chans.Channels[0].ID

	b := jsclient.Start(t)
	c := b.Connect(s.URL, alice.AccessToken, jsclient.Options{})
	if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	send := func(i int, timeout time.Duration) ack {
		var a ack
		if err := c.EmitAck("message:send", map[string]any{"channelId": general, "content": fmt.Sprint("m", i), "nonce": fmt.Sprint("o", i)}, &a, timeout); err != nil {
			t.Errorf("send %d: %v", i, err)
		}
		return a
	}
	acked := map[string]bool{}
	for i := 0; i < 5; i++ {
		a := send(i, 10*time.Second)
		if !a.OK {
			t.Fatalf("baseline send: %+v", a)
		}
		acked[a.Message.ID] = true
	}

	stack(t, "cassandra_stop")
	restarted := false
	defer func() {
		if !restarted {
			stack(t, "cassandra_start")
		}
	}()

	// While Cassandra is down: the first queueLimit sends wait in the queue (no ack yet); the rest are refused
	// at once with a retryable `unavailable`.
	const n = queueLimit + 20
	results := make(chan ack, n)
	var wg sync.WaitGroup
	for i := 5; i < 5+n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- send(i, 3*time.Minute)
		}()
	}
	time.Sleep(3 * time.Second)
	refused := 0
	for len(results) > 0 {
		a := <-results
		if a.OK {
			t.Fatalf("a message was acknowledged while Cassandra was down: %+v", a)
		}
		if a.Error.Code != "unavailable" || !a.Error.Retryable {
			t.Fatalf("refusal: %+v", a)
		}
		refused++
	}
	if refused != n-queueLimit {
		t.Fatalf("%d sends refused while down, want %d (queue limit %d)", refused, n-queueLimit, queueLimit)
	}

	stack(t, "cassandra_start")
	restarted = true
	wg.Wait()
	close(results)
	for a := range results {
		if !a.OK {
			t.Fatalf("queued message not stored after recovery: %+v", a)
		}
		acked[a.Message.ID] = true
	}
	if len(acked) != 5+queueLimit {
		t.Fatalf("%d messages acknowledged, want %d", len(acked), 5+queueLimit)
	}
	res = s.Do(t, "GET", "/api/channels/"+general+"/messages?limit=100", alice.AccessToken, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("history: %d %s", res.Status, res.Body)
	}
	var page struct{ Messages []struct{ ID string } }
	res.JSON(t, &page)
	seen := map[string]bool{}
	for _, m := range page.Messages {
		if seen[m.ID] {
			t.Fatalf("duplicate %s in history", m.ID)
		}
		seen[m.ID] = true
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("acknowledged message %s missing from history", id)
		}
	}
	if len(seen) != len(acked) {
		t.Fatalf("history has %d messages, %d were acknowledged", len(seen), len(acked))
	}
	if a := send(1000, 10*time.Second); !a.OK {
		t.Fatalf("send after recovery: %+v", a)
	}
}
