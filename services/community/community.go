// Package community owns servers (communities), their members and roles, channels, invites and direct
// messages, and answers "may this user read this channel?" for everyone else.
package community

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/rules"
	"github.com/parleychat/parley/internal/tracing"
)

// Store is the relational storage the service needs.
type Store interface {
	CreateServer(ctx context.Context, srv model.Server, first model.Channel, maxServers int) error
	ServersOf(ctx context.Context, userID int64) ([]model.Server, error)
	ServerFor(ctx context.Context, serverID, userID int64) (model.Server, error)
	Server(ctx context.Context, serverID int64) (model.Server, error)
	RenameServer(ctx context.Context, serverID int64, name string) error
	SetServerIcon(ctx context.Context, serverID int64, iconURL string) (old string, err error)
	SetMembersCanInvite(ctx context.Context, serverID int64, allowed bool) error
	DeleteServer(ctx context.Context, serverID int64) (channelIDs, memberIDs []int64, err error)
	Role(ctx context.Context, serverID, userID int64) (string, error)
	Members(ctx context.Context, serverID, after int64, limit int) ([]model.Member, error)
	Member(ctx context.Context, serverID, userID int64) (model.Member, error)
	RemoveMember(ctx context.Context, serverID, userID int64) error
	SetRole(ctx context.Context, serverID, userID int64, role string) error
	CreateInvite(ctx context.Context, inv model.Invite, maxActive int) error
	Invite(ctx context.Context, code string) (model.Invite, error)
	Invites(ctx context.Context, serverID int64) ([]model.Invite, error)
	DeleteInvite(ctx context.Context, serverID int64, code string) error
	UseInvite(ctx context.Context, code string, userID int64, now time.Time, maxServers int) (int64, error)
	Ban(ctx context.Context, b model.Ban) (wasMember bool, err error)
	Bans(ctx context.Context, serverID int64) ([]model.Ban, error)
	Unban(ctx context.Context, serverID, userID int64) error
	Channels(ctx context.Context, serverID int64) ([]model.Channel, error)
	Channel(ctx context.Context, channelID int64) (model.Channel, error)
	CreateChannel(ctx context.Context, c model.Channel, maxChannels int) error
	RenameChannel(ctx context.Context, channelID int64, name string) error
	DeleteChannel(ctx context.Context, channelID int64) error
	FindOrCreateDM(ctx context.Context, c model.Channel, participantIDs []int64, key string) (model.Channel, bool, error)
	DMsOf(ctx context.Context, userID int64) ([]model.Channel, error)
	DMStore
	CanRead(ctx context.Context, channelID, userID int64) (model.Channel, string, error)
	ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	ServerIDs(ctx context.Context, userID int64) ([]int64, error)
	DMChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error)
	ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error)
}

// MetaStore keeps channel metadata (topic, last message) in MongoDB.
type MetaStore interface {
	SetTopic(ctx context.Context, channelID int64, topic string) error
	Get(ctx context.Context, channelIDs []int64) (map[int64]model.ChannelMeta, error)
	Delete(ctx context.Context, channelIDs []int64) error
}

// Users loads profiles.
type Users interface {
	ByIDs(ctx context.Context, ids []int64) ([]model.User, error)
}

// Notifier carries membership and channel changes to connected clients (rooms and events).
type Notifier interface {
	ServerChanged(server model.Server, action string)                            // updated
	ServerDeleted(serverID int64, channelIDs []int64)                            // deleted
	MemberJoined(server model.Server, member model.Member, channelIDs []int64)   // joined
	MemberLeft(serverID, userID int64, channelIDs []int64, action string)        // left, kicked, banned
	MemberChanged(member model.Member)                                           // role
	ChannelChanged(channel model.Channel, meta model.ChannelMeta, action string) // created, updated
	ChannelDeleted(channel model.Channel)                                        // deleted
	DMCreated(channel model.Channel, participantIDs []int64)                     // created
	DMClosed(channelID, userID int64)                                            // closed (the user's own tabs)
	DMLeft(channel model.Channel, userID int64, remaining []int64)               // left; updated for the others
}

// IDs hands out time-ordered ids.
type IDs interface{ Next() int64 }

// Service implements the community rules.
type Service struct {
	store  Store
	meta   MetaStore
	users  Users
	notify Notifier
	ids    IDs
	log    *slog.Logger
	now    func() time.Time

	limits Limits
	// Per-user creation rates (this node's; the caps in limits are kept by PostgreSQL for all nodes).
	inviteRate *ratelimit.Keyed
	dmRate     *ratelimit.Keyed

	// access caches CanRead answers: every message send asks. Any membership change clears it on this node
	// and, through peers, on the others. dmBlocked caches, per 1:1 DM, whether a block forbids sending in it.
	accessMu  sync.Mutex
	access    map[[2]int64]accessEntry
	lists     map[[2]int64]listEntry // last room lists per user ({user, 'c'|'s'}), for outages
	dmBlocked map[int64]blockedEntry
	// accessGen counts ForgetAccess calls: an answer read from Postgres is cached only if none came meanwhile.
	accessGen uint64
	peers     Peers
}

// Limits are the quotas (Discord's defaults in internal/config). A zero cap means no limit.
type Limits struct {
	ServersPerUser    int           // servers a user may be in (created or joined)
	ChannelsPerServer int           // channels a server may have
	InvitesPerServer  int           // usable (unexpired, not used up) invites a server may have
	InviteEvery       time.Duration // per-user invite creation: one per InviteEvery...
	InviteBurst       int           // ...after a burst of InviteBurst
	DMEvery           time.Duration // per-user creation of new DMs (1:1 or group): one per DMEvery...
	DMBurst           int           // ...after a burst of DMBurst
	GroupDMSize       int           // people in a group DM, the creator included
}

func (l *Limits) defaults() {
	if l.InviteEvery <= 0 {
		l.InviteEvery = time.Minute
	}
	if l.InviteBurst <= 0 {
		l.InviteBurst = 10
	}
	if l.DMEvery <= 0 {
		l.DMEvery = 2 * time.Minute
	}
	if l.DMBurst <= 0 {
		l.DMBurst = 10
	}
	if l.GroupDMSize < 2 {
		l.GroupDMSize = 10
	}
}

type blockedEntry struct {
	blockers []int64
	until    time.Time
}

// Peers tells the other nodes that access changed (several nodes; nil on one). AccessChanged returns once
// the notice is on its way, so it reaches them before whatever this node announces next.
type Peers interface {
	AccessChanged()
}

type accessEntry struct {
	channel model.Channel
	role    string
	denied  bool      // the answer was "no such channel for you"
	fresh   time.Time // reused without asking Postgres until then
	usable  time.Time // a "yes" is also served until then while Postgres cannot answer
}

const (
	accessTTL = 10 * time.Second
	// staleTTL bounds how long a last known answer (access, room lists) stands in while Postgres is down, so
	// connected people keep talking through an outage. Membership changes need Postgres, so none can be missed;
	// kicks and revocations before the outage cleared the entries they concern.
	staleTTL = 10 * time.Minute
)

// New builds the service. peers is nil on a single node.
func New(store Store, meta MetaStore, users Users, notify Notifier, ids IDs, peers Peers, limits Limits, log *slog.Logger) *Service {
	limits.defaults()
	return &Service{store: store, meta: meta, users: users, notify: notify, ids: ids, peers: peers, log: log, now: time.Now,
		limits: limits, inviteRate: ratelimit.New(limits.InviteEvery, limits.InviteBurst), dmRate: ratelimit.New(limits.DMEvery, limits.DMBurst),
		access: map[[2]int64]accessEntry{}, lists: map[[2]int64]listEntry{}, dmBlocked: map[int64]blockedEntry{}}
}

func unavailable(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "could not "+what)
}

var (
	errNoServer  = apperr.New(apperr.NotFound, "server not found")
	errNoChannel = apperr.New(apperr.NotFound, "channel not found")
	errNotAdmin  = apperr.New(apperr.Forbidden, "only the server's owner or admins can do that")
	errNotOwner  = apperr.New(apperr.Forbidden, "only the server's owner can do that")
)

func limitReached(message string) error { return apperr.New(apperr.LimitReached, message) }

func (s *Service) tooManyServers() error {
	return limitReached("you are in " + strconv.Itoa(s.limits.ServersPerUser) + " servers, the most allowed: leave one first")
}

// role returns the caller's role; non-members get NotFound (a server you are not in does not exist for you).
func (s *Service) role(ctx context.Context, serverID, userID int64) (string, error) {
	r, err := s.store.Role(ctx, serverID, userID)
	if errors.Is(err, model.ErrNotFound) {
		return "", errNoServer
	}
	if err != nil {
		return "", unavailable(err, "check membership")
	}
	return r, nil
}

func isAdmin(role string) bool { return role == model.RoleOwner || role == model.RoleAdmin }

func validServerName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < rules.ServerNameMinRunes || n > rules.ServerNameMaxRunes || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return "", apperr.InvalidField("name", "server name must be 2-100 characters without control characters")
	}
	return name, nil
}

var channelNameRE = regexp.MustCompile(fmt.Sprintf(`^[\p{Ll}\p{Lo}\p{N}_-]{1,%d}$`, rules.ChannelNameMaxRunes))

// normalizeChannelName applies rules.NormalizeChannelName (the web app applies the same rule before sending, so
// what its form shows is what gets created). What is left must be 1-64 letters, digits, '-' or '_'.
func normalizeChannelName(name string) (string, error) {
	n := rules.NormalizeChannelName(name)
	if !channelNameRE.MatchString(n) {
		return "", apperr.InvalidField("name", "channel name must have 1-64 letters, digits, '-' or '_' (other characters are dropped)")
	}
	return n, nil
}

func validTopic(topic string) (string, error) {
	topic = strings.TrimSpace(topic)
	if utf8.RuneCountInString(topic) > rules.TopicMaxRunes || !utf8.ValidString(topic) || strings.ContainsFunc(topic, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return "", apperr.InvalidField("topic", "topic must be at most 1024 characters without control characters")
	}
	return topic, nil
}

// CreateServer creates a server owned by the caller with a #general channel.
func (s *Service) CreateServer(ctx context.Context, caller int64, name string) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.CreateServer")
	defer span.End()
	name, err := validServerName(name)
	if err != nil {
		return model.Server{}, err
	}
	srv := model.Server{ID: s.ids.Next(), Name: name, OwnerID: caller}
	general := model.Channel{ID: s.ids.Next(), ServerID: srv.ID, Kind: model.ChannelText, Name: "general"}
	if err := s.store.CreateServer(ctx, srv, general, s.limits.ServersPerUser); errors.Is(err, model.ErrLimitReached) {
		return model.Server{}, s.tooManyServers()
	} else if err != nil {
		return model.Server{}, unavailable(err, "create server")
	}
	s.clearAccess()
	srv, err = s.store.ServerFor(ctx, srv.ID, caller)
	if err != nil {
		return model.Server{}, unavailable(err, "load server")
	}
	if m, err := s.store.Member(ctx, srv.ID, caller); err == nil {
		s.notify.MemberJoined(srv, m, []int64{general.ID})
	}
	return srv, nil
}

// Servers lists the caller's servers.
func (s *Service) Servers(ctx context.Context, caller int64) ([]model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.Servers")
	defer span.End()
	srvs, err := s.store.ServersOf(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list servers")
	}
	return srvs, nil
}

// Server returns one of the caller's servers.
func (s *Service) Server(ctx context.Context, caller, serverID int64) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.Server")
	defer span.End()
	srv, err := s.store.ServerFor(ctx, serverID, caller)
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
func (s *Service) SetServerIcon(ctx context.Context, caller, serverID int64, iconURL string) (model.Server, string, error) {
	ctx, span := tracing.Start(ctx, "community.SetServerIcon")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return model.Server{}, "", err
	}
	if !isAdmin(role) {
		return model.Server{}, "", errNotAdmin
	}
	old, err := s.store.SetServerIcon(ctx, serverID, iconURL)
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
func (s *Service) UpdateServer(ctx context.Context, caller, serverID int64, name *string, membersCanInvite *bool) (model.Server, error) {
	ctx, span := tracing.Start(ctx, "community.UpdateServer")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return model.Server{}, err
	}
	if !isAdmin(role) {
		return model.Server{}, errNotAdmin
	}
	if name == nil && membersCanInvite == nil {
		return model.Server{}, apperr.New(apperr.Invalid, "nothing to change: give name and/or membersCanInvite")
	}
	if name != nil {
		n, err := validServerName(*name)
		if err != nil {
			return model.Server{}, err
		}
		if err := s.store.RenameServer(ctx, serverID, n); err != nil {
			return model.Server{}, unavailable(err, "rename server")
		}
	}
	if membersCanInvite != nil {
		if err := s.store.SetMembersCanInvite(ctx, serverID, *membersCanInvite); err != nil {
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
func (s *Service) DeleteServer(ctx context.Context, caller, serverID int64) error {
	ctx, span := tracing.Start(ctx, "community.DeleteServer")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return err
	}
	if role != model.RoleOwner {
		return errNotOwner
	}
	channelIDs, _, err := s.store.DeleteServer(ctx, serverID)
	if err != nil {
		return unavailable(err, "delete server")
	}
	s.clearAccess()
	if err := s.meta.Delete(ctx, channelIDs); err != nil {
		s.log.WarnContext(ctx, "channel metadata left behind", "server", serverID, "err", err)
	}
	s.notify.ServerDeleted(serverID, channelIDs)
	return nil
}

func channelIDs(cs []model.Channel) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// Members lists a server's members, paged by user id.
func (s *Service) Members(ctx context.Context, caller, serverID, after int64, limit int) ([]model.Member, bool, error) {
	ctx, span := tracing.Start(ctx, "community.Members")
	defer span.End()
	if _, err := s.role(ctx, serverID, caller); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > 200 {
		limit = 50
	}
	ms, err := s.store.Members(ctx, serverID, after, limit+1)
	if err != nil {
		return nil, false, unavailable(err, "list members")
	}
	if len(ms) > limit {
		return ms[:limit], true, nil
	}
	return ms, false, nil
}

// Leave removes the caller from a server. The owner must delete the server (or hand it over) instead.
func (s *Service) Leave(ctx context.Context, caller, serverID int64) error {
	ctx, span := tracing.Start(ctx, "community.Leave")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return err
	}
	if role == model.RoleOwner {
		return apperr.New(apperr.Conflict, "the owner cannot leave the server; delete it instead")
	}
	return s.removeMember(ctx, serverID, caller, "left", func() (bool, error) {
		if err := s.store.RemoveMember(ctx, serverID, caller); err != nil {
			return false, unavailable(err, "remove member")
		}
		return true, nil
	})
}

// Kick removes another member (owner, or admin for plain members).
func (s *Service) Kick(ctx context.Context, caller, serverID, target int64) error {
	ctx, span := tracing.Start(ctx, "community.Kick")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return err
	}
	if !isAdmin(role) {
		return errNotAdmin
	}
	if target == caller {
		return apperr.New(apperr.Invalid, "use leave to remove yourself")
	}
	targetRole, err := s.store.Role(ctx, serverID, target)
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
		if err := s.store.RemoveMember(ctx, serverID, target); err != nil {
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
func (s *Service) removeMember(ctx context.Context, serverID, uid int64, action string, remove func() (bool, error)) error {
	chans, err := s.store.Channels(ctx, serverID)
	if err != nil {
		return unavailable(err, "list channels")
	}
	was, err := remove()
	if err != nil {
		return err
	}
	s.clearAccess()
	if was {
		s.notify.MemberLeft(serverID, uid, channelIDs(chans), action)
	}
	return nil
}

// SetRole promotes a member to admin or demotes an admin (owner only).
func (s *Service) SetRole(ctx context.Context, caller, serverID, target int64, newRole string) (model.Member, error) {
	ctx, span := tracing.Start(ctx, "community.SetRole")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
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
	if err := s.store.SetRole(ctx, serverID, target, newRole); errors.Is(err, model.ErrNotFound) {
		return model.Member{}, apperr.New(apperr.NotFound, "that user is not a member")
	} else if err != nil {
		return model.Member{}, unavailable(err, "change role")
	}
	s.clearAccess()
	m, err := s.store.Member(ctx, serverID, target)
	if err != nil {
		return m, unavailable(err, "load member")
	}
	s.notify.MemberChanged(m)
	return m, nil
}

// views decorates channels with their metadata (the caller's read state is added by the read state service).
func (s *Service) views(ctx context.Context, caller int64, chans []model.Channel) ([]model.ChannelView, error) {
	metas, err := s.meta.Get(ctx, channelIDs(chans))
	if err != nil {
		return nil, unavailable(err, "load channel metadata")
	}
	out := make([]model.ChannelView, len(chans))
	for i, c := range chans {
		m := metas[c.ID]
		m.ChannelID = c.ID
		out[i] = model.ChannelView{Channel: c, Meta: m}
	}
	return out, nil
}

// Channels lists a server's channels with unread state.
func (s *Service) Channels(ctx context.Context, caller, serverID int64) ([]model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.Channels")
	defer span.End()
	if _, err := s.role(ctx, serverID, caller); err != nil {
		return nil, err
	}
	chans, err := s.store.Channels(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list channels")
	}
	return s.views(ctx, caller, chans)
}

// CreateChannel adds a text channel (owner or admin).
func (s *Service) CreateChannel(ctx context.Context, caller, serverID int64, name, topic string) (model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.CreateChannel")
	defer span.End()
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return model.ChannelView{}, err
	}
	if !isAdmin(role) {
		return model.ChannelView{}, errNotAdmin
	}
	if name, err = normalizeChannelName(name); err != nil {
		return model.ChannelView{}, err
	}
	if topic, err = validTopic(topic); err != nil {
		return model.ChannelView{}, err
	}
	c := model.Channel{ID: s.ids.Next(), ServerID: serverID, Kind: model.ChannelText, Name: name, CreatedAt: s.now().UTC()}
	if err := s.store.CreateChannel(ctx, c, s.limits.ChannelsPerServer); errors.Is(err, model.ErrLimitReached) {
		return model.ChannelView{}, limitReached("this server has " + strconv.Itoa(s.limits.ChannelsPerServer) + " channels, the most allowed: delete one first")
	} else if errors.Is(err, model.ErrConflict) {
		return model.ChannelView{}, &apperr.Error{Kind: apperr.Conflict, Field: "name", Message: "a channel with that name already exists"}
	} else if err != nil {
		return model.ChannelView{}, unavailable(err, "create channel")
	}
	if topic != "" {
		if err := s.meta.SetTopic(ctx, c.ID, topic); err != nil {
			s.log.WarnContext(ctx, "channel created without its topic", "channel", c.ID, "err", err)
		}
	}
	s.clearAccess()
	v := model.ChannelView{Channel: c, Meta: model.ChannelMeta{ChannelID: c.ID, Topic: topic}}
	s.notify.ChannelChanged(c, v.Meta, "created")
	return v, nil
}

func (s *Service) adminChannel(ctx context.Context, caller, channelID int64) (model.Channel, error) {
	c, role, err := s.store.CanRead(ctx, channelID, caller)
	if errors.Is(err, model.ErrNotFound) {
		return c, errNoChannel
	}
	if err != nil {
		return c, unavailable(err, "load channel")
	}
	if c.Kind != model.ChannelText {
		return c, apperr.New(apperr.Invalid, "direct message channels cannot be changed")
	}
	if !isAdmin(role) {
		return c, errNotAdmin
	}
	return c, nil
}

// UpdateChannel renames a channel and/or sets its topic (owner or admin).
func (s *Service) UpdateChannel(ctx context.Context, caller, channelID int64, name, topic *string) (model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.UpdateChannel")
	defer span.End()
	c, err := s.adminChannel(ctx, caller, channelID)
	if err != nil {
		return model.ChannelView{}, err
	}
	if name != nil {
		n, err := normalizeChannelName(*name)
		if err != nil {
			return model.ChannelView{}, err
		}
		if err := s.store.RenameChannel(ctx, channelID, n); errors.Is(err, model.ErrConflict) {
			return model.ChannelView{}, &apperr.Error{Kind: apperr.Conflict, Field: "name", Message: "a channel with that name already exists"}
		} else if err != nil {
			return model.ChannelView{}, unavailable(err, "rename channel")
		}
		c.Name = n
	}
	if topic != nil {
		t, err := validTopic(*topic)
		if err != nil {
			return model.ChannelView{}, err
		}
		if err := s.meta.SetTopic(ctx, channelID, t); err != nil {
			return model.ChannelView{}, unavailable(err, "set topic")
		}
	}
	vs, err := s.views(ctx, caller, []model.Channel{c})
	if err != nil {
		return model.ChannelView{}, err
	}
	s.notify.ChannelChanged(c, vs[0].Meta, "updated")
	return vs[0], nil
}

// DeleteChannel removes a channel (owner or admin).
func (s *Service) DeleteChannel(ctx context.Context, caller, channelID int64) error {
	ctx, span := tracing.Start(ctx, "community.DeleteChannel")
	defer span.End()
	c, err := s.adminChannel(ctx, caller, channelID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteChannel(ctx, channelID); err != nil {
		return unavailable(err, "delete channel")
	}
	s.clearAccess()
	_ = s.meta.Delete(ctx, []int64{channelID})
	s.notify.ChannelDeleted(c)
	return nil
}

// CanRead returns the channel if the user may read (and write) it, else NotFound. Answers, "no" included, are
// cached briefly; while Postgres is unreachable, a recent "yes" still stands (staleTTL).
func (s *Service) CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
	ctx, span := tracing.Start(ctx, "community.CanRead")
	defer span.End()
	key := [2]int64{channelID, userID}
	now := s.now()
	s.accessMu.Lock()
	e, ok := s.access[key]
	gen := s.accessGen
	s.accessMu.Unlock()
	if ok && now.Before(e.fresh) {
		if e.denied {
			return e.channel, "", errNoChannel
		}
		return e.channel, e.role, nil
	}
	c, role, err := s.store.CanRead(ctx, channelID, userID)
	denied := errors.Is(err, model.ErrNotFound)
	if err != nil && !denied {
		if ok && !e.denied && now.Before(e.usable) {
			return e.channel, e.role, nil
		}
		return c, "", unavailable(err, "check channel access")
	}
	s.accessMu.Lock()
	if len(s.access) > 200_000 {
		s.access = map[[2]int64]accessEntry{}
	}
	if gen == s.accessGen { // else memberships changed while Postgres answered: the answer may predate it
		s.access[key] = accessEntry{channel: c, role: role, denied: denied, fresh: now.Add(accessTTL), usable: now.Add(staleTTL)}
	}
	s.accessMu.Unlock()
	if denied {
		return c, "", errNoChannel
	}
	return c, role, nil
}

func (s *Service) clearAccess() {
	s.ForgetAccess()
	if s.peers != nil {
		s.peers.AccessChanged()
	}
}

// ForgetAccess clears the access caches (another node changed memberships or blocks).
func (s *Service) ForgetAccess() {
	s.accessMu.Lock()
	s.access = map[[2]int64]accessEntry{}
	s.lists = map[[2]int64]listEntry{}
	s.accessGen++
	s.dmBlocked = map[int64]blockedEntry{}
	s.accessMu.Unlock()
}

// ReadableChannelIDs lists the channels a user can read (for socket rooms). While Postgres cannot answer, the
// last list read within staleTTL stands in, so a socket that reconnects during an outage gets its rooms back.
func (s *Service) ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.ReadableChannelIDs")
	defer span.End()
	return s.lastKnown(ctx, [2]int64{userID, 'c'}, func(ctx context.Context) ([]int64, error) { return s.store.ReadableChannelIDs(ctx, userID) })
}

// ServerIDs lists a user's servers (for socket rooms); like ReadableChannelIDs during an outage.
func (s *Service) ServerIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.ServerIDs")
	defer span.End()
	return s.lastKnown(ctx, [2]int64{userID, 's'}, func(ctx context.Context) ([]int64, error) { return s.store.ServerIDs(ctx, userID) })
}

type listEntry struct {
	ids []int64
	at  time.Time
}

// lastKnown reads a list from Postgres and remembers it; when the read fails it returns the list remembered
// within staleTTL, if any. ForgetAccess (every membership change) forgets them all.
func (s *Service) lastKnown(ctx context.Context, key [2]int64, read func(context.Context) ([]int64, error)) ([]int64, error) {
	s.accessMu.Lock()
	gen := s.accessGen
	s.accessMu.Unlock()
	ids, err := read(ctx)
	now := s.now()
	s.accessMu.Lock()
	defer s.accessMu.Unlock()
	if err == nil {
		if len(s.lists) > 100_000 {
			s.lists = map[[2]int64]listEntry{}
		}
		if gen == s.accessGen {
			s.lists[key] = listEntry{ids: ids, at: now}
		}
		return ids, nil
	}
	if e, ok := s.lists[key]; ok && now.Sub(e.at) < staleTTL {
		return e.ids, nil
	}
	return nil, err
}

// DMChannelIDs lists a user's DM channels (presence audience).
func (s *Service) DMChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.DMChannelIDs")
	defer span.End()
	return s.store.DMChannelIDs(ctx, userID)
}

// SharedUserIDs filters `others` to those sharing a server or DM with the user (presence visibility).
func (s *Service) SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.SharedUserIDs")
	defer span.End()
	return s.store.SharedUserIDs(ctx, userID, others)
}

// ServerSizes returns the member count of each given server (presence paces announcements to large servers);
// servers that do not exist are left out.
func (s *Service) ServerSizes(ctx context.Context, serverIDs []int64) (map[int64]int, error) {
	ctx, span := tracing.Start(ctx, "community.ServerSizes")
	defer span.End()
	out := make(map[int64]int, len(serverIDs))
	for _, id := range serverIDs {
		srv, err := s.store.Server(ctx, id)
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

// ChannelReaders returns the users who can read a channel among the given usernames (lower case) and ids, or
// all of them when both are nil (mentions).
func (s *Service) ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error) {
	ctx, span := tracing.Start(ctx, "community.ChannelReaders")
	defer span.End()
	users, err := s.store.ChannelReaders(ctx, channelID, usernames, ids)
	if err != nil {
		return nil, unavailable(err, "resolve mentions")
	}
	return users, nil
}

// ServerChannels lists a server's channels (no access check: callers checked the channel they came from).
func (s *Service) ServerChannels(ctx context.Context, serverID int64) ([]model.Channel, error) {
	ctx, span := tracing.Start(ctx, "community.ServerChannels")
	defer span.End()
	chans, err := s.store.Channels(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list channels")
	}
	return chans, nil
}
