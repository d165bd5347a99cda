package socketapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	"github.com/parleychat/parley/repositories/cassandra"
)

// End-to-end encrypted DMs (issue #19): a member turns encryption on for the whole DM (once, for good); then the
// server takes only ciphertext there, stores and relays it as it came, marks the row encrypted, parses no mentions
// in it, and stores encrypted edits as ciphertext. Ciphertext is refused outside DMs and in DMs not turned on.
func TestEncryptedDMIsRelayedAndStoredAsCiphertext(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "e_alice"), s.Register(t, "e_bob"), s.Register(t, "e_carol")
	_, general := community(t, s, alice, bob, carol)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	res := s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}})
	if res.Status != http.StatusCreated {
		t.Fatalf("open DM: %d %s", res.Status, res.Body)
	}
	var dm struct{ ID string }
	res.JSON(t, &dm)

	// Something that looks like a mention once decoded must not be parsed: the server only sees base64.
	ct := base64.StdEncoding.EncodeToString([]byte("\x00\x01mls-private-message <@" + bob.ID + "> @everyone ciphertext"))
	send := func(c interface {
		EmitAck(string, any, any, time.Duration) error
	}, channel, content, nonce string, encrypted bool) sendAckEnc {
		var ack sendAckEnc
		if err := c.EmitAck("message:send", map[string]any{"channelId": channel, "content": content, "nonce": nonce, "encrypted": encrypted}, &ack, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return ack
	}
	edit := func(c interface {
		EmitAck(string, any, any, time.Duration) error
	}, messageID, content string, encrypted bool) sendAckEnc {
		var ack sendAckEnc
		if err := c.EmitAck("message:edit", map[string]any{"channelId": dm.ID, "messageId": messageID, "content": content, "encrypted": encrypted}, &ack, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return ack
	}
	row := func(messageID string) (string, bool) {
		t.Helper()
		sess, _ := testenv.SharedCassandra(t)
		chID, _ := strconv.ParseInt(dm.ID, 10, 64)
		msgID, _ := strconv.ParseInt(messageID, 10, 64)
		var content string
		var enc bool
		if err := sess.Query(`SELECT content, encrypted FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
			chID, cassandra.Bucket(msgID), msgID).Scan(&content, &enc); err != nil {
			t.Fatal(err)
		}
		return content, enc
	}

	// Before anyone turned encryption on: plaintext is fine, ciphertext is refused (the others' devices would not
	// be in its MLS group, and the server could not tell this DM apart from a plain one).
	if a := send(ac, dm.ID, ct, "e0", true); a.OK || a.Error.Code != "invalid_input" || a.Error.Field != "encrypted" {
		t.Fatalf("ciphertext before encryption is on: %+v", a)
	}
	before := send(bc, dm.ID, "said in clear before", "e-before", false)
	if !before.OK || before.Message.Encrypted {
		t.Fatalf("plain DM: %+v", before)
	}

	// Turning it on: members only (404 for others, like an unknown id), DMs only.
	if r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", carol.AccessToken, nil); r.Status != http.StatusNotFound {
		t.Fatalf("a non-member turns encryption on: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, "PUT", "/api/dms/"+general+"/encryption", alice.AccessToken, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("encryption in a server channel: %d %s", r.Status, r.Body)
	}
	var on struct {
		ID           string
		Encrypted    bool
		Group        bool
		Participants []struct{ ID string }
	}
	r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", alice.AccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("turn encryption on: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &on)
	if on.ID != dm.ID || !on.Encrypted || on.Group || len(on.Participants) != 2 {
		t.Fatalf("turned on: %+v", on)
	}
	// Bob's socket is told, with the flag, and gets the system line.
	evs, err := bc.WaitEvents("channel:update", 2, 5*time.Second) // "created", then "updated"
	if err != nil {
		t.Fatal(err)
	}
	evs = evs[1:]
	var upd struct {
		Action  string
		Channel struct {
			ID           string
			Encrypted    bool
			Participants []struct{ ID string }
		}
	}
	if err := json.Unmarshal(evs[0], &upd); err != nil || upd.Action != "updated" || upd.Channel.ID != dm.ID || !upd.Channel.Encrypted || len(upd.Channel.Participants) != 2 {
		t.Fatalf("channel:update: %s (%v)", evs[0], err)
	}
	systemLines := func() []string {
		t.Helper()
		var page struct {
			Messages []struct {
				ID, Type, SenderID string
			}
		}
		s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages", bob.AccessToken, nil).JSON(t, &page)
		var out []string
		for _, m := range page.Messages {
			if m.Type == "encryption" {
				out = append(out, m.SenderID)
			}
		}
		return out
	}
	waitFor(t, "the encryption system line", func() bool { return len(systemLines()) == 1 })
	if got := systemLines(); got[0] != alice.ID {
		t.Fatalf("system line by %v, want alice", got)
	}
	// Idempotent: a second call (by anyone in the DM) changes and announces nothing.
	if r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", bob.AccessToken, nil); r.Status != http.StatusOK {
		t.Fatalf("again: %d %s", r.Status, r.Body)
	}
	var dms struct {
		Channels []struct {
			ID        string
			Encrypted bool
		}
	}
	s.Do(t, "GET", "/api/dms", bob.AccessToken, nil).JSON(t, &dms)
	if len(dms.Channels) != 1 || !dms.Channels[0].Encrypted {
		t.Fatalf("bob's DM list: %+v", dms.Channels)
	}

	// Files would be stored in the clear: refused at upload, before any byte is kept.
	if st, _, body := s.Upload(t, alice.AccessToken, dm.ID, "filename=notes.txt", []byte("the plan, in clear")); st != http.StatusConflict || !strings.Contains(body, `"encryption_required"`) {
		t.Fatalf("upload into an encrypted DM: %d %s", st, body)
	}

	// Plaintext is refused now, sends and edits alike; the sender seals it and retries.
	if a := send(bc, dm.ID, "plain after", "e-plain", false); a.OK || a.Error.Code != "encryption_required" {
		t.Fatalf("plaintext into an encrypted DM: %+v", a)
	}
	if a := edit(bc, before.Message.ID, "edited in clear", false); a.OK || a.Error.Code != "encryption_required" {
		t.Fatalf("plaintext edit in an encrypted DM: %+v", a)
	}
	ack := send(ac, dm.ID, ct, "e1", true)
	if !ack.OK || !ack.Message.Encrypted || ack.Message.Content != ct || len(ack.Message.Mentions) != 0 || ack.Message.MentionEveryone {
		t.Fatalf("encrypted send: %+v", ack)
	}
	// Bob's history has it as sent, marked encrypted; the stored row too.
	var page struct {
		Messages []struct {
			ID        string
			Content   string
			Encrypted bool
		}
	}
	s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages", bob.AccessToken, nil).JSON(t, &page)
	if len(page.Messages) != 3 || page.Messages[0].Content != ct || !page.Messages[0].Encrypted {
		t.Fatalf("bob's history: %+v", page.Messages)
	}
	if content, enc := row(ack.Message.ID); content != ct || !enc {
		t.Fatalf("stored row: %q encrypted=%v", content, enc)
	}

	// Encrypted edits: new ciphertext, stored as such, also for a message written in clear before encryption.
	ct2 := base64.StdEncoding.EncodeToString([]byte("\x00\x02another mls-private-message"))
	if a := edit(ac, ack.Message.ID, ct2, true); !a.OK || !a.Message.Encrypted || a.Message.Content != ct2 {
		t.Fatalf("encrypted edit: %+v", a)
	}
	if content, enc := row(ack.Message.ID); content != ct2 || !enc {
		t.Fatalf("edited row: %q encrypted=%v", content, enc)
	}
	if a := edit(bc, before.Message.ID, ct2, true); !a.OK || !a.Message.Encrypted {
		t.Fatalf("encrypted edit of an older plaintext message: %+v", a)
	}
	if content, enc := row(before.Message.ID); content != ct2 || !enc {
		t.Fatalf("re-sealed row: %q encrypted=%v", content, enc)
	}
	if a := edit(ac, ack.Message.ID, "not base64 <@1>", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("non-base64 encrypted edit: %+v", a)
	}
	if a := edit(bc, ack.Message.ID, ct2, true); a.OK || a.Error.Code != "forbidden" {
		t.Fatalf("edit of someone else's message: %+v", a)
	}

	// Refused: outside a DM, not base64, oversized.
	if a := send(bc, general, ct, "e2", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("encrypted in a server channel: %+v", a)
	}
	if a := send(bc, dm.ID, "hello in clear <@1>", "e3", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("non-base64 marked encrypted: %+v", a)
	}
	if a := send(bc, dm.ID, strings.Repeat("A", 32<<10), "e4", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("oversized ciphertext: %+v", a)
	}
	// Server channels are untouched.
	if a := send(bc, general, "plain in a channel", "e5", false); !a.OK || a.Message.Encrypted {
		t.Fatalf("plain channel message: %+v", a)
	}
}

// A group DM is turned on like a 1:1 DM, by any of its members, and every member is told.
func TestGroupDMEncryption(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob, carol := s.Register(t, "g_alice"), s.Register(t, "g_bob"), s.Register(t, "g_carol")
	community(t, s, alice, bob, carol)
	b := jsclient.Start(t)
	ac, cc := connect(t, b, s, alice), connect(t, b, s, carol)
	res := s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID, carol.ID}})
	if res.Status != http.StatusCreated {
		t.Fatalf("open group DM: %d %s", res.Status, res.Body)
	}
	var dm struct{ ID string }
	res.JSON(t, &dm)
	var on struct {
		Encrypted, Group bool
		Participants     []struct{ ID string }
	}
	r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", carol.AccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("turn on: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &on)
	if !on.Encrypted || !on.Group || len(on.Participants) != 3 {
		t.Fatalf("group DM turned on: %+v", on)
	}
	for _, c := range []*jsclient.Client{ac, cc} {
		evs, err := c.WaitEvents("channel:update", 2, 5*time.Second) // "created", then "updated"
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(evs[1]), `"encrypted":true`) {
			t.Fatalf("channel:update: %s", evs[1])
		}
		msgs, err := c.WaitEvents("message:new", 1, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Type, SenderID string }
		if err := json.Unmarshal(msgs[0], &m); err != nil || m.Type != "encryption" || m.SenderID != carol.ID {
			t.Fatalf("system line: %s", msgs[0])
		}
	}
	var ack sendAckEnc
	if err := ac.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": "hi all", "nonce": "g1"}, &ack, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ack.OK || ack.Error.Code != "encryption_required" {
		t.Fatalf("plaintext into an encrypted group DM: %+v", ack)
	}
}

type sendAckEnc struct {
	OK      bool `json:"ok"`
	Message struct {
		ID              string
		Content         string
		Encrypted       bool
		Mentions        []string
		MentionEveryone bool
	} `json:"message"`
	Error struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"error"`
}
