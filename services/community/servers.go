package community

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/tracing"
)

// ServerStore keeps servers (Postgres).
type ServerStore interface {
	CreateServer(ctx context.Context, srv model.Server, first model.Channel, maxServers int) error
	ServersOf(ctx context.Context, userID int64) ([]model.Server, error)
	ServerFor(ctx context.Context, serverID, userID int64) (model.Server, error)
	Server(ctx context.Context, serverID int64) (model.Server, error)
	RenameServer(ctx context.Context, serverID int64, name string) error
	SetServerIcon(ctx context.Context, serverID int64, iconURL string) (old string, err error)
	SetMembersCanInvite(ctx context.Context, serverID int64, allowed bool) error
	DeleteServer(ctx context.Context, serverID int64) (channelIDs, memberIDs []int64, err error)
}

// MemberStore keeps who is in a server, with which role, and who is banned from it (Postgres).
type MemberStore interface {
	Role(ctx context.Context, serverID, userID int64) (string, error)
	Members(ctx context.Context, serverID, after int64, limit int) ([]model.Member, error)
	Member(ctx context.Context, serverID, userID int64) (model.Member, error)
	RemoveMember(ctx context.Context, serverID, userID int64) error
	SetRole(ctx context.Context, serverID, userID int64, role string) error
	Ban(ctx context.Context, b model.Ban) (wasMember bool, err error)
	Bans(ctx context.Context, serverID int64) ([]model.Ban, error)
	Unban(ctx context.Context, serverID, userID int64) error
}

// InviteStore keeps invites (Postgres).
type InviteStore interface {
	CreateInvite(ctx context.Context, inv model.Invite, maxActive int) error
	Invite(ctx context.Context, code string) (model.Invite, error)
	Invites(ctx context.Context, serverID int64) ([]model.Invite, error)
	DeleteInvite(ctx context.Context, serverID int64, code string) error
	UseInvite(ctx context.Context, code string, userID int64, now time.Time, maxServers int) (int64, error)
}

// ChannelLister lists a server's channels (the rooms a member joins or leaves with the server).
type ChannelLister interface {
	Channels(ctx context.Context, serverID int64) ([]model.Channel, error)
}

// MembershipStore is all of the above: one Postgres store implements them.
type MembershipStore interface {
	ServerStore
	MemberStore
	InviteStore
	ChannelLister
}

// Membership owns servers, their members and roles, invites and bans.
type Membership struct {
	servers ServerStore
	members MemberStore
	invites InviteStore
	chans   ChannelLister
	meta    MetaStore
	users   Users
	notify  Notifier
	ids     IDs
	access  *Access // told of every membership change
	log     *slog.Logger
	now     func() time.Time

	limits     Limits
	inviteRate *ratelimit.Keyed // per-user invite creation (this node's; the caps in limits are kept by Postgres)
}

// NewMembership builds the server and member rules.
func NewMembership(store MembershipStore, meta MetaStore, users Users, notify Notifier, ids IDs, access *Access, limits Limits, log *slog.Logger) *Membership {
	limits.defaults()
	return &Membership{servers: store, members: store, invites: store, chans: store, meta: meta, users: users, notify: notify, ids: ids,
		access: access, log: log, now: time.Now, limits: limits, inviteRate: ratelimit.New(limits.InviteEvery, limits.InviteBurst)}
}

func (s *Membership) tooManyServers() error {
	return limitReached("you are in " + strconv.Itoa(s.limits.ServersPerUser) + " servers, the most allowed: leave one first")
}

// CreateServer creates a server owned by the caller with a #general channel.
func (s *Membership) CreateServer(ctx context.Context, caller int64, name string) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.CreateServer")
	defer span.End()
	name, err := validServerName(name)
	if err != nil {
		return model.Server{}, err
	}
	srv := model.Server{ID: s.ids.Next(), Name: name, OwnerID: caller}
	general := model.Channel{ID: s.ids.Next(), ServerID: srv.ID, Kind: model.ChannelText, Name: "general"}
	if err := s.servers.CreateServer(ctx, srv, general, s.limits.ServersPerUser); errors.Is(err, model.ErrLimitReached) {
		return model.Server{}, s.tooManyServers()
	} else if err != nil {
		return model.Server{}, unavailable(err, "create server")
	}
	s.access.changed()
	srv, err = s.servers.ServerFor(ctx, srv.ID, caller)
	if err != nil {
		return model.Server{}, unavailable(err, "load server")
	}
	if m, err := s.members.Member(ctx, srv.ID, caller); err == nil {
		s.notify.MemberJoined(srv, m, []int64{general.ID})
	}
	return srv, nil
}

// Servers lists the caller's servers.
func (s *Membership) Servers(ctx context.Context, caller int64) ([]model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.Servers")
	defer span.End()
	srvs, err := s.servers.ServersOf(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list servers")
	}
	return srvs, nil
}

// Server returns one of the caller's servers.
func (s *Membership) Server(ctx context.Context, caller, serverID int64) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.Server")
	defer span.End()
	srv, err := s.servers.ServerFor(ctx, serverID, caller)
	if errors.Is(err, model.ErrNotFound) {
		return srv, errNoServer
	}
	if err != nil {
		return srv, unavailable(err, "load server")
	}
	return srv, nil
}

// SetServerIcon sets (or, with "", clears) a server's icon: owners and admins only. It returns the server and the
// icon path it replaced, for the caller to delete from the object store.
func (s *Membership) SetServerIcon(ctx context.Context, caller, serverID int64, iconURL string) (model.Server, string, error) {
	ctx, span := tracing.Start(ctx, "community.SetServerIcon")
	defer span.End()
	if _, err := requireAdmin(ctx, s.members, serverID, caller); err != nil {
		return model.Server{}, "", err
	}
	old, err := s.servers.SetServerIcon(ctx, serverID, iconURL)
	if err != nil {
		return model.Server{}, "", unavailable(err, "change the server icon")
	}
	srv, err := s.Server(ctx, caller, serverID)
	if err == nil {
		s.notify.ServerChanged(srv, "updated")
	}
	return srv, old, err
}

// UpdateServer changes a server's name and/or whether plain members may create invites (owner or admin); nil
// leaves a setting as it is.
func (s *Membership) UpdateServer(ctx context.Context, caller, serverID int64, name *string, membersCanInvite *bool) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.UpdateServer")
	defer span.End()
	if _, err := requireAdmin(ctx, s.members, serverID, caller); err != nil {
		return model.Server{}, err
	}
	if name == nil && membersCanInvite == nil {
		return model.Server{}, apperr.New(apperr.Invalid, "nothing to change: give name and/or membersCanInvite")
	}
	if name != nil {
		n, err := validServerName(*name)
		if err != nil {
			return model.Server{}, err
		}
		if err := s.servers.RenameServer(ctx, serverID, n); err != nil {
			return model.Server{}, unavailable(err, "rename server")
		}
	}
	if membersCanInvite != nil {
		if err := s.servers.SetMembersCanInvite(ctx, serverID, *membersCanInvite); err != nil {
			return model.Server{}, unavailable(err, "change the invite setting")
		}
	}
	srv, err := s.Server(ctx, caller, serverID)
	if err == nil {
		s.notify.ServerChanged(srv, "updated")
	}
	return srv, err
}

// DeleteServer deletes a server with its channels (owner only). Its messages stay in Cassandra but no
// channel points at them any more, so nobody can read them.
func (s *Membership) DeleteServer(ctx context.Context, caller, serverID int64) error {
	ctx, span := tracing.Start(ctx, "community.DeleteServer")
	defer span.End()
	role, err := role(ctx, s.members, serverID, caller)
	if err != nil {
		return err
	}
	if role != model.RoleOwner {
		return errNotOwner
	}
	channelIDs, _, err := s.servers.DeleteServer(ctx, serverID)
	if err != nil {
		return unavailable(err, "delete server")
	}
	s.access.changed()
	if err := s.meta.Delete(ctx, channelIDs); err != nil {
		s.log.WarnContext(ctx, "channel metadata left behind", "server", serverID, "err", err)
	}
	s.notify.ServerDeleted(serverID, channelIDs)
	return nil
}

// Members lists a server's members, paged by user id.
func (s *Membership) Members(ctx context.Context, caller, serverID, after int64, limit int) ([]model.Member, bool, error) {
	ctx, span := tracing.Start(ctx, "community.Members")
	defer span.End()
	if _, err := role(ctx, s.members, serverID, caller); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > 200 {
		limit = 50
	}
	ms, err := s.members.Members(ctx, serverID, after, limit+1)
	if err != nil {
		return nil, false, unavailable(err, "list members")
	}
	if len(ms) > limit {
		return ms[:limit], true, nil
	}
	return ms, false, nil
}

// Leave removes the caller from a server. The owner must delete the server (or hand it over) instead.
func (s *Membership) Leave(ctx context.Context, caller, serverID int64) error {
	ctx, span := tracing.Start(ctx, "community.Leave")
	defer span.End()
	role, err := role(ctx, s.members, serverID, caller)
	if err != nil {
		return err
	}
	if role == model.RoleOwner {
		return apperr.New(apperr.Conflict, "the owner cannot leave the server; delete it instead")
	}
	return s.removeMember(ctx, serverID, caller, "left", func() (bool, error) {
		if err := s.members.RemoveMember(ctx, serverID, caller); err != nil {
			return false, unavailable(err, "remove member")
		}
		return true, nil
	})
}

// Kick removes another member (owner, or admin for plain members).
func (s *Membership) Kick(ctx context.Context, caller, serverID, target int64) error {
	ctx, span := tracing.Start(ctx, "community.Kick")
	defer span.End()
	role, err := requireAdmin(ctx, s.members, serverID, caller)
	if err != nil {
		return err
	}
	if target == caller {
		return apperr.New(apperr.Invalid, "use leave to remove yourself")
	}
	targetRole, err := s.members.Role(ctx, serverID, target)
	if errors.Is(err, model.ErrNotFound) {
		return apperr.New(apperr.NotFound, "that user is not a member")
	}
	if err != nil {
		return unavailable(err, "check membership")
	}
	if err := outranks(role, targetRole); err != nil {
		return err
	}
	return s.removeMember(ctx, serverID, target, "kicked", func() (bool, error) {
		if err := s.members.RemoveMember(ctx, serverID, target); err != nil {
			return false, unavailable(err, "remove member")
		}
		return true, nil
	})
}

// outranks checks that a moderator with role may act on a member with targetRole ("" = not a member): the owner
// never, an admin only by the owner.
func outranks(role, targetRole string) error {
	if targetRole == model.RoleOwner || (targetRole == model.RoleAdmin && role != model.RoleOwner) {
		return apperr.New(apperr.Forbidden, "you cannot remove a member with an equal or higher role")
	}
	return nil
}

// removeMember runs remove (which reports whether the user was a member) and then takes the user's sockets out
// of the server's rooms on every node (MemberLeft) — the one path for leave, kick and ban.
func (s *Membership) removeMember(ctx context.Context, serverID, uid int64, action string, remove func() (bool, error)) error {
	chans, err := s.chans.Channels(ctx, serverID)
	if err != nil {
		return unavailable(err, "list channels")
	}
	was, err := remove()
	if err != nil {
		return err
	}
	s.access.changed()
	if was {
		s.notify.MemberLeft(serverID, uid, channelIDs(chans), action)
	}
	return nil
}

// SetRole promotes a member to admin or demotes an admin (owner only).
func (s *Membership) SetRole(ctx context.Context, caller, serverID, target int64, newRole string) (model.Member, error) {
	ctx, span := tracing.Start(ctx, "community.SetRole")
	defer span.End()
	role, err := role(ctx, s.members, serverID, caller)
	if err != nil {
		return model.Member{}, err
	}
	if role != model.RoleOwner {
		return model.Member{}, errNotOwner
	}
	if newRole != model.RoleAdmin && newRole != model.RoleMember {
		return model.Member{}, apperr.InvalidField("role", "role must be admin or member")
	}
	if target == caller {
		return model.Member{}, apperr.New(apperr.Invalid, "the owner's role cannot change")
	}
	if err := s.members.SetRole(ctx, serverID, target, newRole); errors.Is(err, model.ErrNotFound) {
		return model.Member{}, apperr.New(apperr.NotFound, "that user is not a member")
	} else if err != nil {
		return model.Member{}, unavailable(err, "change role")
	}
	s.access.changed()
	m, err := s.members.Member(ctx, serverID, target)
	if err != nil {
		return m, unavailable(err, "load member")
	}
	s.notify.MemberChanged(m)
	return m, nil
}

// ServerSizes returns the member count of each given server (presence paces announcements to large servers);
// servers that do not exist are left out.
func (s *Membership) ServerSizes(ctx context.Context, serverIDs []int64) (map[int64]int, error) {
	ctx, span := tracing.Start(ctx, "community.ServerSizes")
	defer span.End()
	out := make(map[int64]int, len(serverIDs))
	for _, id := range serverIDs {
		srv, err := s.servers.Server(ctx, id)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out[id] = srv.MemberCount
	}
	return out, nil
}
