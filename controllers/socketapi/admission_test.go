package socketapi_test

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	"github.com/parleychat/parley/services/keys"
)

// mlsMessage is an MLSMessage carrying a PrivateMessage (RFC 9420 §6) with the clear header the chat server
// reads: the group id and epoch. The server never decrypts, so the rest is filler (internal/mlswire is tested
// on real ts-mls ciphertext).
func mlsMessage(groupID []byte, epoch uint64, tag string) string {
	vec := func(b []byte) []byte { // RFC 9420 §2.1.2: lengths < 64 in one byte, < 16384 in two
		if len(b) < 64 {
			return append([]byte{byte(len(b))}, b...)
		}
		return append([]byte{0x40 | byte(len(b)>>8), byte(len(b))}, b...)
	}
	out := []byte{0, 1, 0, 2}
	out = append(out, vec(groupID)...)
	out = binary.BigEndian.AppendUint64(out, epoch)
	out = append(out, 1) // application
	out = append(out, vec(nil)...)
	out = append(out, vec([]byte("sender-data-"+tag))...)
	out = append(out, vec([]byte("ciphertext-"+tag))...)
	return base64.StdEncoding.EncodeToString(out)
}

// Issue #19: the chat server asks the real key service (in process, on the real Postgres) before it stores an
// encrypted message, as the sender. Counted once per message (a retry is answered from the stored message
// without asking again); stale epochs and overdue rotations are refused in the ack and nothing is stored;
// ciphertext of another DM's group, of a group the sender is not in, or that is not MLS is invalid_input; an
// unreachable key service is a retryable unavailable, and the retry stores the message once.
func TestEncryptedSendsAreAdmittedByTheKeyService(t *testing.T) {
	t.Parallel()
	// The key service's handler is set once the chat server (whose Postgres and token key it shares) is up.
	var api atomic.Pointer[http.Handler]
	var down atomic.Bool
	var mu sync.Mutex
	admits := map[string]int{} // POST /v1/groups/{id}/messages calls per group, as the key service saw them
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() { // a key service that went away: the connection drops without an answer
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
			mu.Lock()
			admits[strings.Split(r.URL.Path, "/")[3]]++
			mu.Unlock()
		}
		(*api.Load()).ServeHTTP(w, r)
	}))
	defer ks.Close()
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_KEYS_URL": ks.URL}})
	pol := keys.DefaultPolicy
	pol.MaxMessages, pol.GraceMessages = 2, 1 // the 4th message of an epoch is refused
	h, _ := s.KeyService(t, pol, nil)
	api.Store(&h)
	admitted := func(gid string) int {
		mu.Lock()
		defer mu.Unlock()
		return admits[gid]
	}
	call := keysCaller(t, ks.URL)

	alice, bob, carol := s.Register(t, "ad_alice"), s.Register(t, "ad_bob"), s.Register(t, "ad_carol")
	community(t, s, alice, bob, carol)
	dmWith := func(other testserver.Account) string {
		res := s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{other.ID}})
		var dm struct{ ID string }
		res.JSON(t, &dm)
		if r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", alice.AccessToken, nil); r.Status != http.StatusOK {
			t.Fatalf("turn encryption on: %d %s", r.Status, r.Body)
		}
		return dm.ID
	}
	dm, dmCarol := dmWith(bob), dmWith(carol)
	a1 := call(alice, "POST", "/v1/devices", map[string]any{"name": "Chromium", "signatureKey": opaqueBlob("sig-a")})["device"].(map[string]any)["id"].(string)
	gidBytes, gidCarolBytes := []byte("group-of-alice-and-bob"), []byte("group-of-alice-and-carol")
	gid, gidCarol := base64.RawURLEncoding.EncodeToString(gidBytes), base64.RawURLEncoding.EncodeToString(gidCarolBytes)
	call(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1, "channelId": dm})
	call(alice, "POST", "/v1/groups", map[string]any{"groupId": gidCarol, "deviceId": a1, "channelId": dmCarol})
	groupMessages := func(id string) float64 {
		return call(alice, "GET", "/v1/groups/"+id, nil)["group"].(map[string]any)["messages"].(float64)
	}

	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	type ack struct {
		OK      bool `json:"ok"`
		Message struct{ ID, Content string }
		Error   struct {
			Code      string `json:"code"`
			Field     string `json:"field"`
			Retryable bool   `json:"retryable"`
		} `json:"error"`
	}
	emit := func(c *jsclient.Client, event string, payload map[string]any) ack {
		t.Helper()
		var a ack
		if err := c.EmitAck(event, payload, &a, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		return a
	}
	send := func(c *jsclient.Client, channel, content, nonce string) ack {
		return emit(c, "message:send", map[string]any{"channelId": channel, "content": content, "nonce": nonce, "encrypted": true})
	}
	stored := func(channel string) []string {
		t.Helper()
		var page struct {
			Messages []struct{ Content, Type string }
		}
		s.Do(t, "GET", "/api/channels/"+channel+"/messages?limit=100", alice.AccessToken, nil).JSON(t, &page)
		var out []string
		for _, m := range page.Messages {
			if m.Type == "default" {
				out = append(out, m.Content)
			}
		}
		return out
	}

	// Counted at the key service, once: the retry of a stored message is answered with it without asking again.
	m1 := mlsMessage(gidBytes, 0, "m1")
	first := send(ac, dm, m1, "n1")
	if !first.OK || first.Message.Content != m1 {
		t.Fatalf("first encrypted send: %+v", first)
	}
	if again := send(ac, dm, m1, "n1"); !again.OK || again.Message.ID != first.Message.ID {
		t.Fatalf("retry: %+v, want the stored message %s", again, first.Message.ID)
	}
	if n, calls := groupMessages(gid), admitted(gid); n != 1 || calls != 1 {
		t.Fatalf("after a send and its retry: the group counted %v messages in %d calls, want 1 in 1", n, calls)
	}

	// Refused before anything is stored: a stale (or future) epoch; another DM's group (its budget untouched); a
	// group Bob has no device in; something that is not an MLS application message.
	if a := send(ac, dm, mlsMessage(gidBytes, 7, "future"), "n-stale"); a.OK || a.Error.Code != "stale_epoch" || a.Error.Retryable {
		t.Fatalf("wrong epoch: %+v", a)
	}
	if a := send(ac, dm, mlsMessage(gidCarolBytes, 0, "x"), "n-other"); a.OK || a.Error.Code != "invalid_input" || a.Error.Field != "content" {
		t.Fatalf("another DM's group: %+v", a)
	}
	if n, calls := groupMessages(gidCarol), admitted(gidCarol); n != 0 || calls != 0 {
		t.Fatalf("the other DM's group was asked %d times and counted %v messages", calls, n)
	}
	if a := send(bc, dm, mlsMessage(gidBytes, 0, "bob"), "n-bob"); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("a group the sender has no device in: %+v", a)
	}
	if a := send(ac, dm, mlsMessage([]byte("no-such-group-anywhere"), 0, "x"), "n-unknown"); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("an unknown group: %+v", a)
	}
	for name, ct := range map[string]string{
		"not-mls":   opaqueBlob("just bytes"),
		"truncated": mlsMessage(gidBytes, 0, "t")[:24],
		// a handshake message (content type commit) of the DM's group: those go to the key service, never here
		"commit": base64.StdEncoding.EncodeToString(append(append([]byte{0, 1, 0, 2, byte(len(gidBytes))}, gidBytes...), 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 9, 1, 9)),
	} {
		if a := send(ac, dm, ct, "n-"+name); a.OK || a.Error.Code != "invalid_input" || a.Error.Field != "content" {
			t.Fatalf("%s: %+v", name, a)
		}
	}
	if got := stored(dm); len(got) != 1 {
		t.Fatalf("%d messages stored after the refusals, want 1", len(got))
	}

	// The policy: two more fill the epoch and its grace; the next is refused with rotation_overdue, not stored.
	for _, n := range []string{"n2", "n3"} {
		if a := send(ac, dm, mlsMessage(gidBytes, 0, n), n); !a.OK {
			t.Fatalf("%s: %+v", n, a)
		}
	}
	if a := send(ac, dm, mlsMessage(gidBytes, 0, "n4"), "n4"); a.OK || a.Error.Code != "rotation_overdue" || a.Error.Retryable {
		t.Fatalf("overdue: %+v", a)
	}
	if got := stored(dm); len(got) != 3 {
		t.Fatalf("%d messages stored, want 3 (the overdue one refused)", len(got))
	}
	// A rotation (a Commit to epoch 1), then the same nonce resealed in the new epoch is stored.
	call(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 0, "commit": opaqueBlob("rotation")})
	if a := send(ac, dm, mlsMessage(gidBytes, 1, "n4"), "n4"); !a.OK {
		t.Fatalf("after the rotation: %+v", a)
	}

	// An encrypted edit is new ciphertext: admitted the same way.
	if a := emit(ac, "message:edit", map[string]any{"channelId": dm, "messageId": first.Message.ID, "content": mlsMessage(gidBytes, 0, "edit"), "encrypted": true}); a.OK || a.Error.Code != "stale_epoch" {
		t.Fatalf("edit sealed in the old epoch: %+v", a)
	}
	edited := mlsMessage(gidBytes, 1, "edit")
	if a := emit(ac, "message:edit", map[string]any{"channelId": dm, "messageId": first.Message.ID, "content": edited, "encrypted": true}); !a.OK || a.Message.Content != edited {
		t.Fatalf("edit: %+v", a)
	}
	if n := groupMessages(gid); n != 2 {
		t.Fatalf("epoch 1 counted %v messages, want 2 (a send and an edit)", n)
	}

	// The key service is unreachable: a retryable unavailable, nothing stored; the retry with the same nonce is
	// stored once when it is back.
	down.Store(true)
	m5 := mlsMessage(gidBytes, 1, "n5")
	if a := send(ac, dm, m5, "n5"); a.OK || a.Error.Code != "unavailable" || !a.Error.Retryable {
		t.Fatalf("key service down: %+v", a)
	}
	if got := stored(dm); len(got) != 4 {
		t.Fatalf("%d messages stored while the key service was down, want 4", len(got))
	}
	down.Store(false)
	if a := send(ac, dm, m5, "n5"); !a.OK {
		t.Fatalf("retry after the key service came back: %+v", a)
	}
	if got := stored(dm); len(got) != 5 || got[0] != m5 {
		t.Fatalf("stored %d messages (newest %.20q), want 5 with the retried one newest", len(got), got[0])
	}
}
