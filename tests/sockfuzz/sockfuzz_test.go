package sockfuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/controllers/socketapi"
	"github.com/parleychat/parley/internal/testenv/sioclient"
)

// syncBuffer collects the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// panicLine matches what the server logs when it recovers a panic (gin's recovery, the socket wrapper) and the
// runtime's own "panic:"; an unrecovered panic ends this process, which fails the test anyway.
var panicLine = regexp.MustCompile(`(?i).*panic.*`)

// TestHostileFrames runs the socket-level fuzzer against a fully wired server on the real databases: 10,000
// hostile frames in `make test` (SOCKFUZZ_FRAMES sets more: `make chaos` sends 100,000). Then: no 5xx was
// answered, no panic was logged, /readyz is 200, and two normal clients still chat.
func TestHostileFrames(t *testing.T) {
	frames := 10_000
	if v := os.Getenv("SOCKFUZZ_FRAMES"); v != "" {
		var err error
		if frames, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SOCKFUZZ_FRAMES=%q", v)
		}
	}
	// The per-user budgets would answer most of the fuzzer's events rate_limited before their payloads are even
	// decoded; they are lifted so the payloads reach the decoders and handlers (SOCKFUZZ_PRODUCT_LIMITS=1 keeps
	// them; the budgets have tests of their own in controllers/socketapi).
	if os.Getenv("SOCKFUZZ_PRODUCT_LIMITS") != "1" {
		saved := maps.Clone(socketapi.DefaultEventLimits)
		for k := range socketapi.DefaultEventLimits {
			socketapi.DefaultEventLimits[k] = socketapi.Limit{Every: time.Microsecond, Burst: 1 << 30}
		}
		t.Cleanup(func() { maps.Copy(socketapi.DefaultEventLimits, saved) })
	}
	logs := &syncBuffer{}
	s := testserver.Start(t, testserver.Options{Log: logs, Env: map[string]string{
		"PARLEY_REGISTER_BURST":   "100",
		"PARLEY_ACCESS_TOKEN_TTL": "3h",
		"PARLEY_SEND_RATE":        "100000",
		"PARLEY_SEND_BURST":       "100000",
	}})
	owner := s.Register(t, "owner")
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	var fuzzers []testserver.Account
	for i := range 4 {
		fuzzers = append(fuzzers, s.Register(t, fmt.Sprintf("fuzzer%d", i)))
	}
	general := community(t, s, owner, append([]testserver.Account{alice, bob}, fuzzers...)...)
	stranger := s.Register(t, "stranger")
	foreign := community(t, s, stranger)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// A few stored messages, for payloads that name real ones.
	var msgs []string
	ac := connect(t, ctx, s.URL, alice, nil)
	for i := range 3 {
		msgs = append(msgs, send(t, ctx, ac, general, fmt.Sprintf("seed %d", i)))
	}
	ac.Close()

	tokens := make([]string, len(fuzzers))
	for i, f := range fuzzers {
		tokens[i] = f.AccessToken
	}
	rep := Run(ctx, Config{URL: s.URL, Tokens: tokens, Frames: frames, Seed: uint64(time.Now().UnixNano()),
		Targets: Targets{Channels: []string{general}, Messages: msgs, Foreign: []string{foreign}}})
	t.Logf("socket fuzzer: %s", rep.Summary())
	for _, c := range rep.CloseAfter {
		t.Logf("closed by the server: %s", c)
	}
	for _, c := range rep.NoAckAfter {
		t.Logf("barrier not acknowledged: %s", c)
	}
	if path := os.Getenv("SOCKFUZZ_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(rep.Summary()+"\n"), 0o644)
	}

	if rep.Frames < int64(frames) {
		t.Errorf("only %d of %d frames sent", rep.Frames, frames)
	}
	if rep.NoAck > 0 {
		t.Errorf("%d barriers were not acknowledged within 20 s: the server stopped taking a connection's frames", rep.NoAck)
	}
	if len(rep.ServerError) > 0 {
		t.Errorf("%d answers were 5xx, first: %v", len(rep.ServerError), rep.ServerError[:min(5, len(rep.ServerError))])
	}
	if lines := panicLine.FindAllString(logs.String(), -1); len(lines) > 0 {
		t.Errorf("the server logged %d panics, the first: %s", len(lines), lines[0])
	}
	if res := s.Do(t, "GET", "/readyz", "", nil); res.Status != http.StatusOK {
		t.Errorf("/readyz after the fuzzer: %d %s", res.Status, res.Body)
	}
	// A normal client still sends, and another receives.
	got := make(chan string, 16)
	bc := connect(t, ctx, s.URL, bob, func(name string, args []json.RawMessage) {
		if name == "message:new" && len(args) > 0 {
			var m struct{ ID string }
			_ = json.Unmarshal(args[0], &m)
			got <- m.ID
		}
	})
	defer bc.Close()
	ac = connect(t, ctx, s.URL, alice, nil)
	defer ac.Close()
	id := send(t, ctx, ac, general, "still here")
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-got:
			if m == id {
				return
			}
		case <-deadline:
			t.Fatalf("bob did not receive alice's message %s after the fuzzer", id)
		}
	}
}

func connect(t *testing.T, ctx context.Context, url string, acc testserver.Account, on func(string, []json.RawMessage)) *sioclient.Client {
	t.Helper()
	c, err := sioclient.Connect(ctx, url, acc.AccessToken, sioclient.Options{OnEvent: on})
	if err != nil {
		t.Fatalf("%s connects: %v", acc.Username, err)
	}
	return c
}

// send sends a message and returns its id; it must be acknowledged ok.
func send(t *testing.T, ctx context.Context, c *sioclient.Client, channel, content string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw, err := c.EmitAck(ctx, "message:send", map[string]string{"channelId": channel, "content": content,
		"nonce": strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	var ack struct {
		OK      bool
		Message struct{ ID string }
	}
	if json.Unmarshal(raw, &ack) != nil || !ack.OK {
		t.Fatalf("send answered %s", raw)
	}
	return ack.Message.ID
}

// community creates a server owned by owner, joined by members, and returns its first channel.
func community(t *testing.T, s *testserver.Server, owner testserver.Account, members ...testserver.Account) string {
	t.Helper()
	var srv struct{ ID string }
	s.Do(t, "POST", "/api/servers", owner.AccessToken, map[string]string{"name": "Fuzz " + owner.Username}).JSON(t, &srv)
	if len(members) > 0 {
		var inv struct{ Code string }
		s.Do(t, "POST", "/api/servers/"+srv.ID+"/invites", owner.AccessToken, nil).JSON(t, &inv)
		for _, m := range members {
			if res := s.Do(t, "POST", "/api/invites/"+inv.Code+"/join", m.AccessToken, nil); res.Status != http.StatusOK {
				t.Fatalf("join: %d %s", res.Status, res.Body)
			}
		}
	}
	var chans struct{ Channels []struct{ ID string } }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	return chans.Channels[0].ID
}
