// Package admission asks the key service (cmd/keys) to admit an encrypted DM message before the chat server
// stores it, so the rotation policy binds every client, not only those that ask for themselves (README
// "End-to-end encrypted DMs"). The chat server calls the key service as the sender: it mints a short-lived access
// token for the sender's socket session (the same signing key; the key service checks that the session is live),
// so the key service needs no new route and no new secret.
//
// The MLS group and epoch come from the PrivateMessage's clear header (internal/mlswire). MLS authenticates that
// header inside the ciphertext, so a sender who lies in it only makes its own message unreadable. The group is
// bound to the DM by the key service: a group is created with the chat channel it belongs to (POST /v1/groups
// {channelId}, the web app's convention) and that binding never changes; a message is admitted only when its
// group's channelId is the DM it is sent to, and the key service only answers members of the group. So a sender
// can spend only the budget of a group of this DM that one of its own devices is in.
package admission

import (
	"context"
	"encoding/base64"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/mlswire"
	"github.com/parleychat/parley/repositories/keysclient"
)

// Keys is the key service, called with the sender's access token.
type Keys interface {
	Group(ctx context.Context, token, groupID string) (keysclient.Group, error)
	AdmitMessage(ctx context.Context, token, groupID string, epoch uint64) (keysclient.Group, error)
}

// Tokens mints access tokens (services/auth.TokenIssuer, built with a short lifetime for this use).
type Tokens interface {
	Issue(userID, sessionID int64) (string, time.Time, error)
}

// TokenTTL is the lifetime of the tokens minted for the key service: one call each.
const TokenTTL = time.Minute

// maxBindings bounds the memory of group → channel bindings (about 100 bytes each); when full it starts over.
const maxBindings = 50_000

// Service admits encrypted messages.
type Service struct {
	keys   Keys
	tokens Tokens
	log    *slog.Logger

	mu       sync.Mutex
	bindings map[string]int64 // MLS group id (base64url) → the DM it belongs to; never changes once created
}

// New admits through keys, as the sender, with tokens minted by tokens.
func New(keys Keys, tokens Tokens, log *slog.Logger) *Service {
	return &Service{keys: keys, tokens: tokens, log: log, bindings: map[string]int64{}}
}

var errNotThisGroup = apperr.InvalidField("content", "the message is not encrypted for this conversation's MLS group")

// Admit asks the key service to count one application message (base64 MLS ciphertext) that userID sends, on
// its session sessionID, into the encrypted DM channelID. It returns nil when the message may be stored;
// invalid_input for a message that is not an MLS application message of this DM's group; rotation_overdue or
// stale_epoch as the key service refuses it; unavailable when the key service cannot be asked (store nothing).
func (s *Service) Admit(ctx context.Context, userID, sessionID, channelID int64, ciphertext string) error {
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return apperr.InvalidField("content", "encrypted content must be standard base64")
	}
	h, err := mlswire.ParseApplicationMessage(raw)
	if err != nil {
		return apperr.InvalidField("content", "encrypted content must be an MLS application message ("+err.Error()+")")
	}
	groupID := base64.RawURLEncoding.EncodeToString(h.GroupID)
	token, _, err := s.tokens.Issue(userID, sessionID)
	if err != nil {
		return apperr.Wrap(apperr.Internal, err, "could not authenticate to the key service")
	}
	// The binding first, so that a message sealed for another group never spends that group's budget.
	if err := s.checkBinding(ctx, token, groupID, channelID); err != nil {
		return err
	}
	g, err := s.keys.AdmitMessage(ctx, token, groupID, h.Epoch)
	if apperr.Is(err, apperr.NotFound) {
		return errNotThisGroup // removed from the group since the binding was cached
	}
	if err != nil {
		return err
	}
	if g.ChannelID != channelID {
		return errNotThisGroup // cannot happen while bindings never change; refuse rather than store
	}
	return nil
}

func (s *Service) checkBinding(ctx context.Context, token, groupID string, channelID int64) error {
	s.mu.Lock()
	bound, ok := s.bindings[groupID]
	s.mu.Unlock()
	if !ok {
		g, err := s.keys.Group(ctx, token, groupID)
		if apperr.Is(err, apperr.NotFound) {
			return errNotThisGroup // unknown, or the sender has no device in it
		}
		if err != nil {
			return err
		}
		bound = g.ChannelID
		s.mu.Lock()
		if len(s.bindings) >= maxBindings {
			s.bindings = map[string]int64{}
		}
		s.bindings[groupID] = bound
		s.mu.Unlock()
	}
	if bound != channelID {
		if s.log != nil {
			s.log.InfoContext(ctx, "encrypted message for another channel's group refused", "group", groupID, "channel", channelID, "bound", bound)
		}
		return errNotThisGroup
	}
	return nil
}
