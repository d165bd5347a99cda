// Package dmencryption turns end-to-end encryption on for a DM, for everyone in it (issue #19). The flag lives on
// the channel (model.Channel.Encrypted), so the access check messaging already makes tells it whether a DM only
// accepts ciphertext; this package only sets it, once, and tells the members.
package dmencryption

import (
	"context"
	"errors"
	"log/slog"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Store sets the flag (Postgres).
type Store interface {
	// EncryptDM turns the flag on: changed when this call did; group for a group DM; model.ErrNotFound when the
	// channel is not a DM.
	EncryptDM(ctx context.Context, channelID int64) (changed, group bool, err error)
	Participants(ctx context.Context, channelID int64) ([]model.User, error)
}

// Access is the channel access check (community): NotFound for non-members, and the channel with its flag.
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
}

// AccessCache forgets cached access answers on every node, so the next send sees the flag at once.
type AccessCache interface {
	AccessChanged()
}

// Notifier tells the DM's members' sockets that the DM is now encrypted.
type Notifier interface {
	DMEncrypted(c model.Channel)
}

// Lines writes the system line "X turned on end-to-end encryption" into the DM (messaging).
type Lines interface {
	EncryptionLine(ctx context.Context, userID, channelID int64) error
}

// Service turns encryption on.
type Service struct {
	store  Store
	access Access
	cache  AccessCache
	notify Notifier
	lines  Lines
	log    *slog.Logger
}

func New(store Store, access Access, cache AccessCache, notify Notifier, lines Lines, log *slog.Logger) *Service {
	return &Service{store: store, access: access, cache: cache, notify: notify, lines: lines, log: log}
}

// Enable turns end-to-end encryption on for a DM the caller is in. It is idempotent (a second call, or a
// concurrent one, changes nothing and announces nothing) and cannot be undone: from then on the chat server
// accepts only ciphertext there. It returns the DM with its participants.
func (s *Service) Enable(ctx context.Context, caller, channelID int64) (model.Channel, error) {
	ctx, span := tracing.Start(ctx, "dmencryption.Enable")
	defer span.End()
	ch, _, err := s.access.CanRead(ctx, caller, channelID)
	if err != nil {
		return model.Channel{}, err
	}
	if ch.Kind != model.ChannelDM {
		return model.Channel{}, apperr.New(apperr.Invalid, "only direct messages can be end-to-end encrypted")
	}
	changed, group, err := s.store.EncryptDM(ctx, channelID)
	if errors.Is(err, model.ErrNotFound) {
		return model.Channel{}, apperr.New(apperr.NotFound, "channel not found")
	}
	if err != nil {
		return model.Channel{}, apperr.Wrap(apperr.Unavailable, err, "could not turn encryption on")
	}
	ch.Encrypted, ch.Group = true, group
	if ch.Participants, err = s.store.Participants(ctx, channelID); err != nil {
		return model.Channel{}, apperr.Wrap(apperr.Unavailable, err, "could not load the DM's members")
	}
	if !changed {
		return ch, nil
	}
	// Cached access answers carry the old flag: forget them before announcing, so no plaintext send checked
	// after the announcement passes.
	s.cache.AccessChanged()
	s.notify.DMEncrypted(ch)
	if err := s.lines.EncryptionLine(ctx, caller, channelID); err != nil {
		s.log.WarnContext(ctx, "the encryption system line was not written", "channel", channelID, "err", err)
	}
	return ch, nil
}
