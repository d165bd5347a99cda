package community

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

const inviteAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// DefaultInviteTTL is an invite's lifetime when the creator does not choose one (Discord's app default).
const DefaultInviteTTL = 7 * 24 * time.Hour

const (
	maxInviteTTL  = 30 * 24 * time.Hour
	maxInviteUses = 10_000
)

func newInviteCode() (string, error) {
	b := make([]byte, 10)
	max := big.NewInt(int64(len(inviteAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = inviteAlphabet[n.Int64()]
	}
	return string(b), nil
}

var errNoInvite = apperr.New(apperr.NotFound, "this invite is invalid or was revoked")

// CreateInvite makes an invite code for a server. Owners and admins may always invite; plain members only while
// the server allows it (MembersCanInvite, on by default as in Discord). expiresInSeconds: nil = 7 days, 0 = never,
// else 1 s to 30 days; maxUses: nil or 0 = unlimited, else 1-10000. Creation is rate-limited per user and a
// server has at most Limits.InvitesPerServer usable invites.
func (s *Membership) CreateInvite(ctx context.Context, caller, serverID int64, maxUses, expiresInSeconds *int) (model.Invite, error) {
	ctx, span := tracing.Start(ctx, "community.CreateInvite")
	defer span.End()
	srv, err := s.Server(ctx, caller, serverID)
	if err != nil {
		return model.Invite{}, err
	}
	if !isAdmin(srv.Role) && !srv.MembersCanInvite {
		return model.Invite{}, apperr.New(apperr.Forbidden, "only the server's owner and admins can create invites here")
	}
	inv := model.Invite{ServerID: serverID, CreatorID: caller, CreatedAt: s.now().UTC()}
	if maxUses != nil && *maxUses != 0 {
		if *maxUses < 1 || *maxUses > maxInviteUses {
			return model.Invite{}, apperr.InvalidField("maxUses", "maxUses must be 0 (unlimited) or between 1 and 10000")
		}
		inv.MaxUses = maxUses
	}
	ttl := DefaultInviteTTL
	if expiresInSeconds != nil {
		ttl = time.Duration(*expiresInSeconds) * time.Second
		if *expiresInSeconds < 0 || ttl > maxInviteTTL {
			return model.Invite{}, apperr.InvalidField("expiresInSeconds", "expiresInSeconds must be 0 (never) or between 1 and 2592000 (30 days)")
		}
	}
	if ttl > 0 {
		t := inv.CreatedAt.Add(ttl)
		inv.ExpiresAt = &t
	}
	if ok, wait := s.inviteRate.Allow(strconv.FormatInt(caller, 10)); !ok {
		return model.Invite{}, apperr.RateLimit(wait)
	}
	for attempt := 0; ; attempt++ {
		code, err := newInviteCode()
		if err != nil {
			return model.Invite{}, apperr.Wrap(apperr.Internal, err, "could not create invite")
		}
		inv.Code = code
		err = s.invites.CreateInvite(ctx, inv, s.limits.InvitesPerServer)
		switch {
		case errors.Is(err, model.ErrConflict) && attempt < 3:
			continue
		case errors.Is(err, model.ErrLimitReached):
			return model.Invite{}, limitReached("this server has " + strconv.Itoa(s.limits.InvitesPerServer) +
				" active invites, the most allowed: revoke some first")
		case errors.Is(err, model.ErrNotFound):
			return model.Invite{}, errNoServer
		case err != nil:
			return model.Invite{}, unavailable(err, "create invite")
		}
		return inv, nil
	}
}

// InviteView is an invite in a server's list, with its creator's profile (zero User if the account is gone).
type InviteView struct {
	Invite  model.Invite
	Creator model.User
}

// Invites lists a server's invites, newest first, expired and used-up ones included (owner or admin).
func (s *Membership) Invites(ctx context.Context, caller, serverID int64) ([]InviteView, error) {
	ctx, span := tracing.Start(ctx, "community.Invites")
	defer span.End()
	if _, err := requireAdmin(ctx, s.members, serverID, caller); err != nil {
		return nil, err
	}
	invs, err := s.invites.Invites(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list invites")
	}
	ids := make([]int64, 0, len(invs))
	for _, inv := range invs {
		ids = append(ids, inv.CreatorID)
	}
	users, err := s.users.ByIDs(ctx, ids)
	if err != nil {
		return nil, unavailable(err, "load users")
	}
	byID := make(map[int64]model.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make([]InviteView, len(invs))
	for i, inv := range invs {
		out[i] = InviteView{Invite: inv, Creator: byID[inv.CreatorID]}
	}
	return out, nil
}

// RevokeInvite deletes an invite: the server's owner and admins may revoke any, a member the ones they made.
func (s *Membership) RevokeInvite(ctx context.Context, caller, serverID int64, code string) error {
	ctx, span := tracing.Start(ctx, "community.RevokeInvite")
	defer span.End()
	role, err := role(ctx, s.members, serverID, caller)
	if err != nil {
		return err
	}
	inv, err := s.invites.Invite(ctx, code)
	if errors.Is(err, model.ErrNotFound) || (err == nil && inv.ServerID != serverID) {
		return errNoInvite
	}
	if err != nil {
		return unavailable(err, "load invite")
	}
	if !isAdmin(role) && inv.CreatorID != caller {
		return apperr.New(apperr.Forbidden, "only the server's owner and admins can revoke others' invites")
	}
	if err := s.invites.DeleteInvite(ctx, serverID, code); errors.Is(err, model.ErrNotFound) {
		return errNoInvite
	} else if err != nil {
		return unavailable(err, "revoke invite")
	}
	return nil
}

// validCode: codes are short printable ASCII; anything else cannot exist and is not looked up.
func validCode(code string) bool {
	return code != "" && len(code) <= 64 && !strings.ContainsFunc(code, func(r rune) bool { return r < '!' || r > '~' })
}

// InvitePreview is what an invite link shows before joining.
type InvitePreview struct {
	Invite model.Invite
	Server model.Server
}

func (s *Membership) usableInvite(ctx context.Context, code string) (model.Invite, error) {
	if !validCode(code) {
		return model.Invite{}, errNoInvite
	}
	inv, err := s.invites.Invite(ctx, code)
	if errors.Is(err, model.ErrNotFound) {
		return inv, errNoInvite
	}
	if err != nil {
		return inv, unavailable(err, "load invite")
	}
	if inv.ExpiresAt != nil && !s.now().Before(*inv.ExpiresAt) {
		return inv, apperr.New(apperr.Gone, "this invite has expired")
	}
	if inv.MaxUses != nil && inv.Uses >= *inv.MaxUses {
		return inv, apperr.New(apperr.Gone, "this invite has been used up")
	}
	return inv, nil
}

// PreviewInvite describes an invite's server.
func (s *Membership) PreviewInvite(ctx context.Context, code string) (InvitePreview, error) {
	ctx, span := tracing.Start(ctx, "community.PreviewInvite")
	defer span.End()
	inv, err := s.usableInvite(ctx, code)
	if err != nil {
		return InvitePreview{}, err
	}
	srv, err := s.servers.Server(ctx, inv.ServerID)
	if err != nil {
		return InvitePreview{}, unavailable(err, "load server")
	}
	return InvitePreview{Invite: inv, Server: srv}, nil
}

// JoinInvite adds the caller to the invite's server. Joining a server one is already in is a no-op success
// and does not consume a use. Banned users are refused whatever the invite.
func (s *Membership) JoinInvite(ctx context.Context, caller int64, code string) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.JoinInvite")
	defer span.End()
	if !validCode(code) {
		return model.Server{}, errNoInvite
	}
	serverID, err := s.invites.UseInvite(ctx, code, caller, s.now(), s.limits.ServersPerUser)
	switch {
	case errors.Is(err, model.ErrAlreadyMember):
		return s.Server(ctx, caller, serverID)
	case errors.Is(err, model.ErrNotFound):
		return model.Server{}, errNoInvite
	case errors.Is(err, model.ErrBanned):
		return model.Server{}, apperr.New(apperr.Forbidden, "you are banned from this server")
	case errors.Is(err, model.ErrLimitReached):
		return model.Server{}, s.tooManyServers()
	case errors.Is(err, model.ErrInviteExpired):
		return model.Server{}, apperr.New(apperr.Gone, "this invite has expired")
	case errors.Is(err, model.ErrInviteUsedUp):
		return model.Server{}, apperr.New(apperr.Gone, "this invite has been used up")
	case err != nil:
		return model.Server{}, unavailable(err, "join server")
	}
	s.access.changed()
	srv, err := s.Server(ctx, caller, serverID)
	if err != nil {
		return srv, err
	}
	m, err := s.members.Member(ctx, serverID, caller)
	chans, err2 := s.chans.Channels(ctx, serverID)
	if err == nil && err2 == nil {
		s.notify.MemberJoined(srv, m, channelIDs(chans))
	}
	return srv, nil
}
