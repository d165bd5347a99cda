package messaging

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

func TestCheckEncryption(t *testing.T) {
	text := model.Channel{Kind: model.ChannelText, ServerID: 1}
	dm := model.Channel{Kind: model.ChannelDM}
	sealed := model.Channel{Kind: model.ChannelDM, Encrypted: true}
	for _, c := range []struct {
		name      string
		ch        model.Channel
		encrypted bool
		want      apperr.Kind // "" for accepted
	}{
		{"plaintext in a channel", text, false, ""},
		{"ciphertext in a channel", text, true, apperr.Invalid},
		{"plaintext in a plain DM", dm, false, ""},
		{"ciphertext in a DM not turned on", dm, true, apperr.Invalid},
		{"plaintext in an encrypted DM", sealed, false, apperr.EncryptionRequired},
		{"ciphertext in an encrypted DM", sealed, true, ""},
	} {
		err := checkEncryption(c.ch, c.encrypted)
		if (c.want == "") != (err == nil) || (err != nil && !apperr.Is(err, c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// A plaintext send whose flag check ran before encryption was turned on (the access cache still says plain here)
// is refused once the "turned on end-to-end encryption" line is queued, so nothing after the line is stored in
// clear; what was queued before it is stored, and a retry of it is still answered.
func TestPlaintextQueuedAfterTheEncryptionLineIsRefused(t *testing.T) {
	store := newFakeStore()
	s, _ := newService(t, store, Config{FlushBatch: 1000, FlushDelay: time.Hour})
	before := send(t, s, 1, 10, "sent before", "n1")
	if err := s.EncryptionLine(context.Background(), 2, 10); err != nil {
		t.Fatal(err)
	}
	after := send(t, s, 1, 10, "checked before the flag, queued after the line", "n2")
	if r := wait(t, after, time.Second); !apperr.Is(r.err, apperr.EncryptionRequired) {
		t.Fatalf("plaintext after the line: %+v", r)
	}
	retry := send(t, s, 1, 10, "sent before", "n1")       // the same nonce as the first: answered, not refused
	if err := s.Close(context.Background()); err != nil { // stores the queue
		t.Fatal(err)
	}
	for _, ch := range []chan result{before, retry} {
		if r := wait(t, ch, 5*time.Second); r.err != nil || r.msg.Content != "sent before" {
			t.Fatalf("the message queued before the line: %+v", r)
		}
	}
}
