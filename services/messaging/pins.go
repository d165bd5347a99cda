package messaging

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// PinStore keeps each channel's pinned message ids (MongoDB channel metadata).
type PinStore interface {
	Pin(ctx context.Context, channelID, messageID int64) (bool, error)
	Unpin(ctx context.Context, channelID, messageID int64) (bool, error)
	Get(ctx context.Context, channelIDs []int64) (map[int64]model.ChannelMeta, error)
}

// PinPublisher announces pin changes to a channel's members.
type PinPublisher interface {
	PinChanged(channelID, messageID, userID int64, pinned bool)
}

// MaxPins is the most messages one channel can have pinned (as in Discord).
const MaxPins = 50

var errNoPins = apperr.New(apperr.Unavailable, "pins are not available on this server")

// mayPin checks that the user may pin and unpin in the channel: a server's owner and admins; anyone in a DM.
func (s *Service) mayPin(ctx context.Context, userID, channelID int64) error {
	if s.pins == nil {
		return errNoPins
	}
	ch, role, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return err
	}
	if ch.Kind != model.ChannelDM && role != model.RoleOwner && role != model.RoleAdmin {
		return apperr.New(apperr.Forbidden, "only the server's owner or admins can pin and unpin messages")
	}
	return nil
}

// pinAccess is mayPin, and the message is a visible message someone wrote.
func (s *Service) pinAccess(ctx context.Context, userID, channelID, messageID int64) error {
	if err := s.mayPin(ctx, userID, channelID); err != nil {
		return err
	}
	m, err := s.message(ctx, channelID, messageID)
	if err != nil {
		return err
	}
	if m.Kind != "" {
		return apperr.InvalidField("messageId", "system messages cannot be pinned")
	}
	return nil
}

// Pin pins a message, announces it (pin:update) and writes the system line "X pinned a message" to the channel.
func (s *Service) Pin(ctx context.Context, userID, channelID, messageID int64) error {
	if err := s.pinAccess(ctx, userID, channelID, messageID); err != nil {
		return err
	}
	metas, err := s.pins.Get(ctx, []int64{channelID})
	if err != nil {
		return unavailable(err)
	}
	pinned := metas[channelID].Pinned
	if slices.Contains(pinned, messageID) {
		return nil
	}
	if len(pinned) >= MaxPins {
		return apperr.New(apperr.Conflict, fmt.Sprintf("a channel can have at most %d pinned messages; unpin one first", MaxPins))
	}
	added, err := s.pins.Pin(ctx, channelID, messageID)
	if err != nil {
		return unavailable(err)
	}
	if !added { // someone else pinned it meanwhile
		return nil
	}
	s.pinPub.PinChanged(channelID, messageID, userID, true)
	line := model.Message{ChannelID: channelID, SenderID: userID, Kind: model.KindPin, ReplyTo: messageID,
		Nonce: fmt.Sprintf("pin:%d:%d", messageID, s.now().UnixMilli())}
	done := func(_ model.Message, err error) {
		if err != nil {
			s.log.WarnContext(ctx, "the pin's system message was not stored", "channel", channelID, "message", messageID, "err", err)
		}
	}
	return s.dispatch(line, done)
}

// Unpin unpins a message and announces it.
func (s *Service) Unpin(ctx context.Context, userID, channelID, messageID int64) error {
	if err := s.mayPin(ctx, userID, channelID); err != nil {
		return err
	}
	removed, err := s.pins.Unpin(ctx, channelID, messageID)
	if err != nil {
		return unavailable(err)
	}
	if removed {
		s.pinPub.PinChanged(channelID, messageID, userID, false)
	}
	return nil
}

// Pins lists a channel's pinned messages, the most recently pinned first (deleted ones left out).
func (s *Service) Pins(ctx context.Context, userID, channelID int64) ([]model.Message, error) {
	if s.pins == nil {
		return nil, errNoPins
	}
	if _, _, err := s.access.CanRead(ctx, userID, channelID); err != nil {
		return nil, err
	}
	metas, err := s.pins.Get(ctx, []int64{channelID})
	if err != nil {
		return nil, unavailable(err)
	}
	ids := metas[channelID].Pinned
	out := make([]model.Message, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := s.message(ctx, channelID, ids[i])
		cancel()
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
