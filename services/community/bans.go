package community

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/rules"
	"github.com/parleychat/parley/internal/tracing"
)

const maxBanReason = rules.BanReasonMaxRunes

// Ban keeps a user out of a server (owner, or admin for plain members and non-members): a member is removed like
// a kick (their sockets leave the server's rooms on every node), the invites they created there are revoked, and
// no invite lets them back in until they are unbanned. Banning someone already banned updates the reason.
func (s *Membership) Ban(ctx context.Context, caller, serverID, target int64, reason string) error {
	ctx, span := tracing.Start(ctx, "community.Ban")
	defer span.End()
	role, err := requireAdmin(ctx, s.members, serverID, caller)
	if err != nil {
		return err
	}
	if target == caller {
		return apperr.New(apperr.Invalid, "you cannot ban yourself")
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxBanReason || !utf8.ValidString(reason) || strings.ContainsFunc(reason, unicode.IsControl) {
		return apperr.InvalidField("reason", "reason must be at most 512 characters without control characters")
	}
	targetRole, err := s.members.Role(ctx, serverID, target)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return unavailable(err, "check membership")
	}
	if err := outranks(role, targetRole); err != nil {
		return apperr.New(apperr.Forbidden, "you cannot ban a member with an equal or higher role")
	}
	return s.removeMember(ctx, serverID, target, "banned", func() (bool, error) {
		was, err := s.members.Ban(ctx, model.Ban{ServerID: serverID, User: model.User{ID: target}, BannedBy: caller, Reason: reason})
		if errors.Is(err, model.ErrNotFound) {
			return false, apperr.New(apperr.NotFound, "that user does not exist")
		}
		if err != nil {
			return false, unavailable(err, "ban")
		}
		return was, nil
	})
}

// Bans lists a server's bans, newest first (owner or admin).
func (s *Membership) Bans(ctx context.Context, caller, serverID int64) ([]model.Ban, error) {
	ctx, span := tracing.Start(ctx, "community.Bans")
	defer span.End()
	if _, err := requireAdmin(ctx, s.members, serverID, caller); err != nil {
		return nil, err
	}
	bans, err := s.members.Bans(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list bans")
	}
	return bans, nil
}

// Unban lifts a ban (owner or admin); the user may then join again with an invite.
func (s *Membership) Unban(ctx context.Context, caller, serverID, target int64) error {
	ctx, span := tracing.Start(ctx, "community.Unban")
	defer span.End()
	if _, err := requireAdmin(ctx, s.members, serverID, caller); err != nil {
		return err
	}
	if err := s.members.Unban(ctx, serverID, target); errors.Is(err, model.ErrNotFound) {
		return apperr.New(apperr.NotFound, "that user is not banned")
	} else if err != nil {
		return unavailable(err, "unban")
	}
	return nil
}
