package messaging

import (
	"testing"

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
