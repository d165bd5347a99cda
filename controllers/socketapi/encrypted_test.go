package socketapi_test

import (
	"encoding/base64"
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

// End-to-end encrypted DMs (issue #19): the server stores and relays the ciphertext as it came, marks the row
// encrypted, parses no mentions in it, refuses it outside DMs and refuses to edit it.
func TestEncryptedDMIsRelayedAndStoredAsCiphertext(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "e_alice"), s.Register(t, "e_bob")
	_, general := community(t, s, alice, bob)
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
	ack := send(ac, dm.ID, ct, "e1", true)
	if !ack.OK || !ack.Message.Encrypted || ack.Message.Content != ct || len(ack.Message.Mentions) != 0 || ack.Message.MentionEveryone {
		t.Fatalf("encrypted send: %+v", ack)
	}
	// Bob's history has it as sent, marked encrypted.
	var page struct {
		Messages []struct {
			ID        string
			Content   string
			Encrypted bool
		}
	}
	s.Do(t, "GET", "/api/channels/"+dm.ID+"/messages", bob.AccessToken, nil).JSON(t, &page)
	if len(page.Messages) != 1 || page.Messages[0].Content != ct || !page.Messages[0].Encrypted {
		t.Fatalf("bob's history: %+v", page.Messages)
	}
	// The stored row: ciphertext and the flag.
	sess, _ := testenv.SharedCassandra(t)
	chID, _ := strconv.ParseInt(dm.ID, 10, 64)
	msgID, _ := strconv.ParseInt(ack.Message.ID, 10, 64)
	var content string
	var enc bool
	if err := sess.Query(`SELECT content, encrypted FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
		chID, cassandra.Bucket(msgID), msgID).Scan(&content, &enc); err != nil {
		t.Fatal(err)
	}
	if content != ct || !enc {
		t.Fatalf("stored row: %q encrypted=%v", content, enc)
	}

	// Refused: outside a DM, not base64, and editing.
	if a := send(bc, general, ct, "e2", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("encrypted in a server channel: %+v", a)
	}
	if a := send(bc, dm.ID, "hello in clear <@1>", "e3", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("non-base64 marked encrypted: %+v", a)
	}
	if a := send(bc, dm.ID, strings.Repeat("A", 32<<10), "e4", true); a.OK || a.Error.Code != "invalid_input" {
		t.Fatalf("oversized ciphertext: %+v", a)
	}
	var edit sendAckEnc
	if err := ac.EmitAck("message:edit", map[string]any{"channelId": dm.ID, "messageId": ack.Message.ID, "content": "plain now"}, &edit, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if edit.OK || edit.Error.Code != "forbidden" {
		t.Fatalf("edit of an encrypted message: %+v", edit)
	}
	// Ordinary DMs still work and are not marked.
	if a := send(bc, dm.ID, "plain", "e5", false); !a.OK || a.Message.Encrypted {
		t.Fatalf("plain DM: %+v", a)
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
		Code string `json:"code"`
	} `json:"error"`
}
