package socketapi_test

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/controllers/socketapi"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	"github.com/parleychat/parley/internal/testenv/rawsio"
)

// One account that opens many sockets and stops reading them cannot make the server hold an unbounded
// backlog (#22 finding 1): a socket over its queue limit is closed (and stops counting against the account),
// and an account has at most PARLEY_MAX_SOCKETS_PER_USER sockets on a node.
func TestStalledSocketsAreClosedAndCapped(t *testing.T) {
	t.Parallel()
	const maxSockets = 8
	s := testserver.Start(t, testserver.Options{Env: map[string]string{
		"PARLEY_MAX_SOCKETS_PER_USER": fmt.Sprint(maxSockets), "PARLEY_SOCKET_QUEUE_LIMIT": "262144",
		"PARLEY_SEND_RATE": "100000", "PARLEY_SEND_BURST": "100000"}})
	alice, mallory := s.Register(t, "alice"), s.Register(t, "mallory")
	_, general := community(t, s, alice, mallory)

	var stalled []*rawsio.Socket
	for i := range maxSockets {
		rs, answer := rawsio.Dial(t, s.URL, mallory.AccessToken, 4096)
		if !strings.HasPrefix(answer, "40{") {
			t.Fatalf("mallory's socket %d: %q", i+1, answer)
		}
		stalled = append(stalled, rs)
	}
	if _, answer := rawsio.Dial(t, s.URL, mallory.AccessToken, 0); !strings.HasPrefix(answer, "44") || !strings.Contains(answer, "too_many_connections") {
		t.Fatalf("socket %d of one account: %q, want too_many_connections", maxSockets+1, answer)
	}

	// Alice, who reads, sends 16 KB messages: about 6.4 MB (more than the kernel buffers on loopback, up to 4 MB) for each of Mallory's sockets, which read nothing.
	sender, answer := rawsio.Dial(t, s.URL, alice.AccessToken, 0)
	if !strings.HasPrefix(answer, "40{") {
		t.Fatal(answer)
	}
	var got atomic.Int64
	go sender.ReadLoop(`42["message:new"`, &got)
	content := strings.Repeat("😀", 4000)
	const n = 400
	for i := range n {
		sender.Write(t, fmt.Sprintf(`42%d["message:send",{"channelId":%q,"content":%q,"nonce":"big-%d"}]`, i, general, content, i))
		if i%20 == 19 { // keep the sender's own socket under its queue limit: let its reader catch up
			waitFor(t, fmt.Sprintf("%d messages delivered to alice", i+1), func() bool { return got.Load() > int64(i-20) })
		}
	}
	waitFor(t, "every message delivered to alice", func() bool { return got.Load() == n })

	// Mallory's stalled sockets were closed by the server as soon as their backlog passed the limit (not only
	// by the 10 s write timeout), so her budget is free again.
	waitWithin(t, 3*time.Second, "mallory's stalled sockets closed", func() bool {
		rs, answer := rawsio.Dial(t, s.URL, mallory.AccessToken, 0)
		defer rs.Conn.Close()
		return strings.HasPrefix(answer, "40{")
	})
	for i := range maxSockets - 1 {
		if _, answer := rawsio.Dial(t, s.URL, mallory.AccessToken, 0); !strings.HasPrefix(answer, "40{") {
			t.Fatalf("after the stalled sockets were closed, mallory's socket %d: %q", i+2, answer)
		}
	}
	for _, rs := range stalled { // the server closed them: what they can still read ends in EOF, not a timeout
		_ = rs.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, rs.Conn); err != nil {
			t.Errorf("a stalled socket was not closed by the server: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, ok)
}

func waitWithin(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Events other than message:send are rate-limited per account too (#22 finding 2): a burst, then refusals with
// the time to wait; the refusal costs the server no database work.
func TestEditsAndSyncsAreRateLimited(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice := s.Register(t, "alice")
	_, general := community(t, s, alice)
	b := jsclient.Start(t)
	c := connect(t, b, s, alice)
	sent := sendMsg(t, c, general, "typo", "e-1")
	if !sent.OK {
		t.Fatalf("send: %+v", sent)
	}
	burst := func(event string, payload map[string]any, allowed int) {
		t.Helper()
		for i := 0; i <= allowed; i++ {
			var a sendAck
			if err := c.EmitAck(event, payload, &a, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			switch {
			case i < allowed && !a.OK:
				t.Fatalf("%s #%d refused: %+v", event, i+1, a.Error)
			case i == allowed && (a.OK || a.Error.Code != "rate_limited" || !a.Error.Retryable):
				t.Fatalf("%s #%d (over the burst of %d): %+v, want rate_limited", event, i+1, allowed, a)
			}
		}
	}
	burst("message:edit", map[string]any{"channelId": general, "messageId": sent.Message.ID, "content": "fixed"}, socketapi.DefaultEventLimits["message:edit"].Burst)
	burst("messages:sync", map[string]any{"channels": map[string]string{general: "0"}}, socketapi.DefaultEventLimits["messages:sync"].Burst)
}
