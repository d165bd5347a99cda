package messaging

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

var errEncryptionRequired = &apperr.Error{Kind: apperr.EncryptionRequired, Field: "encrypted",
	Message: "this conversation is end-to-end encrypted: the message must be encrypted on your device"}

// checkEncryption matches a message (or an edit) to its channel: an encrypted DM takes only ciphertext, and
// ciphertext goes only into a DM whose members turned encryption on (else the others' devices, which have not
// joined its MLS group, could not read it and the server could not tell the DM apart from a plaintext one).
func checkEncryption(ch model.Channel, encrypted bool) error {
	switch {
	case ch.Encrypted && !encrypted:
		return errEncryptionRequired
	case encrypted && ch.Kind != model.ChannelDM:
		return apperr.InvalidField("encrypted", "only direct messages can be end-to-end encrypted")
	case encrypted && !ch.Encrypted:
		return apperr.InvalidField("encrypted", "end-to-end encryption is not turned on in this conversation: turn it on first")
	}
	return nil
}

// EncryptionLine writes the system line "X turned on end-to-end encryption" into a DM (services/dmencryption
// calls it once, when the flag changes). It returns once the line is queued.
func (s *Service) EncryptionLine(ctx context.Context, userID, channelID int64) error {
	line := model.Message{ChannelID: channelID, SenderID: userID, Kind: model.KindEncryption,
		Nonce: fmt.Sprintf("encryption:%d", channelID)}
	return s.dispatch(line, func(_ model.Message, err error) {
		if err != nil {
			s.log.WarnContext(ctx, "the encryption system line was not stored", "channel", channelID, "err", err)
		}
	})
}
