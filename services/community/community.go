// Package community owns servers (communities), their members and roles, channels, invites and direct
// messages, and answers "may this user read this channel?" for everyone else.
package community

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// Store is the relational storage the service needs.
type Store interface {
	CreateServer(ctx context.Context, srv model.Server, first model.Channel) error
	ServersOf(ctx context.Context, userID int64) ([]model.Server, error)
	ServerFor(ctx context.Context, serverID, userID int64) (model.Server, error)
	Server(ctx context.Context, serverID int64) (model.Server, error)
	RenameServer(ctx context.Context, serverID int64, name string) error
	DeleteServer(ctx context.Context, serverID int64) (channelIDs, memberIDs []int64, err error)
	Role(ctx context.Context, serverID, userID int64) (string, error)
	Members(ctx context.Context, serverID, after int64, limit int) ([]model.Member, error)
	Member(ctx context.Context, serverID, userID int64) (model.Member, error)
	RemoveMember(ctx context.Context, serverID, userID int64) error
	SetRole(ctx context.Context, serverID, userID int64, role string) error
	CreateInvite(ctx context.Context, inv model.Invite) error
	Invite(ctx context.Context, code string) (model.Invite, error)
	UseInvite(ctx context.Context, code string, userID int64, now time.Time) (int64, error)
	Channels(ctx context.Context, serverID int64) ([]model.Channel, error)
	Channel(ctx context.Context, channelID int64) (model.Channel, error)
	CreateChannel(ctx context.Context, c model.Channel) error
	RenameChannel(ctx context.Context, channelID int64, name string) error
	DeleteChannel(ctx context.Context, channelID int64) error
	FindOrCreateDM(ctx context.Context, c model.Channel, participantIDs []int64, key string) (model.Channel, bool, error)
	DMsOf(ctx context.Context, userID int64) ([]model.Channel, error)
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

// ReadStates supplies the caller's read position and unread counts for channel lists (optional).
type ReadStates interface {
	Annotate(ctx context.Context, userID int64, views []View) error
}

// Notifier carries membership and channel changes to connected clients (rooms and events).
type Notifier interface {
	ServerChanged(server model.Server, action string)                            // updated
	ServerDeleted(serverID int64, channelIDs []int64)                            // deleted
	MemberJoined(server model.Server, member model.Member, channelIDs []int64)   // joined
	MemberLeft(serverID, userID int64, channelIDs []int64, action string)        // left, kicked
	MemberChanged(member model.Member)                                           // role
	ChannelChanged(channel model.Channel, meta model.ChannelMeta, action string) // created, updated
	ChannelDeleted(channel model.Channel)                                        // deleted
	DMCreated(channel model.Channel, participantIDs []int64)                     // created
}

// IDs hands out time-ordered ids.
type IDs interface{ Next() int64 }

// View is a channel as a user sees it in a list: metadata plus their read state.
type View struct {
	Channel      model.Channel
	Meta         model.ChannelMeta
	LastReadID   int64
	UnreadCount  int
	MentionCount int
}

// Service implements the community rules.
type Service struct {
	store  Store
	meta   MetaStore
	users  Users
	reads  ReadStates
	notify Notifier
	ids    IDs
	log    *slog.Logger
	now    func() time.Time

	// access caches CanRead answers: every message send asks. Any membership change clears it on this node
	// and, through peers, on the others.
	accessMu sync.Mutex
	access   map[[2]int64]accessEntry
	lists    map[[2]int64]listEntry // last room lists per user ({user, 'c'|'s'}), for outages
	// accessGen counts ForgetAccess calls: an answer read from Postgres is cached only if none came meanwhile.
	accessGen uint64
	peers     Peers
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

// New builds the service. reads may be nil until read state exists; peers is nil on a single node.
func New(store Store, meta MetaStore, users Users, notify Notifier, ids IDs, peers Peers, log *slog.Logger) *Service {
	return &Service{store: store, meta: meta, users: users, notify: notify, ids: ids, peers: peers, log: log, now: time.Now, access: map[[2]int64]accessEntry{}, lists: map[[2]int64]listEntry{}}
}

// SetReadStates plugs in unread counts for channel lists.
func (s *Service) SetReadStates(r ReadStates) { s.reads = r }

func unavailable(err error, what string) error {
	return apperr.Wrap(apperr.Unavailable, err, "could not "+what)
}

var (
	errNoServer  = apperr.New(apperr.NotFound, "server not found")
	errNoChannel = apperr.New(apperr.NotFound, "channel not found")
	errNotAdmin  = apperr.New(apperr.Forbidden, "only the server's owner or admins can do that")
	errNotOwner  = apperr.New(apperr.Forbidden, "only the server's owner can do that")
)

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
	if n := utf8.RuneCountInString(name); n < 2 || n > 100 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return "", apperr.InvalidField("name", "server name must be 2-100 characters without control characters")
	}
	return name, nil
}

var channelNameRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{1,64}$`)

// normalizeChannelName makes a channel name the way Discord does: lowercase, runs of spaces and dashes become
// one dash, punctuation and symbols are dropped ("Random Stuff!" → "random-stuff"). What is left must be 1-64
// letters, digits, '-' or '_'.
func normalizeChannelName(name string) (string, error) {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case unicode.IsSpace(r) || r == '-':
			dash = b.Len() > 0 // no leading dash; a trailing one is never written
		case r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(r)
		}
	}
	n := b.String()
	if !channelNameRE.MatchString(n) {
		return "", apperr.InvalidField("name", "channel name must have 1-64 letters, digits, '-' or '_' (other characters are dropped)")
	}
	return n, nil
}

func validTopic(topic string) (string, error) {
	topic = strings.TrimSpace(topic)
	if utf8.RuneCountInString(topic) > 1024 || !utf8.ValidString(topic) || strings.ContainsFunc(topic, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return "", apperr.InvalidField("topic", "topic must be at most 1024 characters without control characters")
	}
	return topic, nil
}

// CreateServer creates a server owned by the caller with a #general channel.
func (s *Service) CreateServer(ctx context.Context, caller int64, name string) (model.Server, error) {
	name, err := validServerName(name)
	if err != nil {
		return model.Server{}, err
	}
	srv := model.Server{ID: s.ids.Next(), Name: name, OwnerID: caller}
	general := model.Channel{ID: s.ids.Next(), ServerID: srv.ID, Kind: model.ChannelText, Name: "general"}
	if err := s.store.CreateServer(ctx, srv, general); err != nil {
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
	srvs, err := s.store.ServersOf(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list servers")
	}
	return srvs, nil
}

// Server returns one of the caller's servers.
func (s *Service) Server(ctx context.Context, caller, serverID int64) (model.Server, error) {
	srv, err := s.store.ServerFor(ctx, serverID, caller)
	if errors.Is(err, model.ErrNotFound) {
		return srv, errNoServer
	}
	if err != nil {
		return srv, unavailable(err, "load server")
	}
	return srv, nil
}

// RenameServer changes a server's name (owner or admin).
func (s *Service) RenameServer(ctx context.Context, caller, serverID int64, name string) (model.Server, error) {
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return model.Server{}, err
	}
	if !isAdmin(role) {
		return model.Server{}, errNotAdmin
	}
	if name, err = validServerName(name); err != nil {
		return model.Server{}, err
	}
	if err := s.store.RenameServer(ctx, serverID, name); err != nil {
		return model.Server{}, unavailable(err, "rename server")
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
		s.log.Warn("channel metadata left behind", "server", serverID, "err", err)
	}
	s.notify.ServerDeleted(serverID, channelIDs)
	return nil
}

const inviteAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

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

// CreateInvite makes an invite code for a server; any member may invite.
func (s *Service) CreateInvite(ctx context.Context, caller, serverID int64, maxUses, expiresInSeconds *int) (model.Invite, error) {
	if _, err := s.role(ctx, serverID, caller); err != nil {
		return model.Invite{}, err
	}
	inv := model.Invite{ServerID: serverID, CreatorID: caller, MaxUses: maxUses, CreatedAt: s.now().UTC()}
	if maxUses != nil && (*maxUses < 1 || *maxUses > 10_000) {
		return inv, apperr.InvalidField("maxUses", "maxUses must be between 1 and 10000")
	}
	if expiresInSeconds != nil {
		if *expiresInSeconds < 1 || *expiresInSeconds > 30*24*3600 {
			return inv, apperr.InvalidField("expiresInSeconds", "expiresInSeconds must be between 1 and 2592000 (30 days)")
		}
		t := s.now().Add(time.Duration(*expiresInSeconds) * time.Second).UTC()
		inv.ExpiresAt = &t
	}
	for attempt := 0; ; attempt++ {
		code, err := newInviteCode()
		if err != nil {
			return inv, apperr.Wrap(apperr.Internal, err, "could not create invite")
		}
		inv.Code = code
		err = s.store.CreateInvite(ctx, inv)
		if errors.Is(err, model.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return inv, unavailable(err, "create invite")
		}
		return inv, nil
	}
}

// InvitePreview is what an invite link shows before joining.
type InvitePreview struct {
	Invite model.Invite
	Server model.Server
}

func (s *Service) usableInvite(ctx context.Context, code string) (model.Invite, error) {
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, model.ErrNotFound) {
		return inv, apperr.New(apperr.NotFound, "this invite does not exist")
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
func (s *Service) PreviewInvite(ctx context.Context, code string) (InvitePreview, error) {
	inv, err := s.usableInvite(ctx, code)
	if err != nil {
		return InvitePreview{}, err
	}
	srv, err := s.store.Server(ctx, inv.ServerID)
	if err != nil {
		return InvitePreview{}, unavailable(err, "load server")
	}
	return InvitePreview{Invite: inv, Server: srv}, nil
}

// JoinInvite adds the caller to the invite's server. Joining a server one is already in is a no-op success
// and does not consume a use.
func (s *Service) JoinInvite(ctx context.Context, caller int64, code string) (model.Server, error) {
	serverID, err := s.store.UseInvite(ctx, code, caller, s.now())
	switch {
	case errors.Is(err, model.ErrAlreadyMember):
		return s.Server(ctx, caller, serverID)
	case errors.Is(err, model.ErrNotFound):
		return model.Server{}, apperr.New(apperr.NotFound, "this invite does not exist")
	case errors.Is(err, model.ErrInviteExpired):
		return model.Server{}, apperr.New(apperr.Gone, "this invite has expired")
	case errors.Is(err, model.ErrInviteUsedUp):
		return model.Server{}, apperr.New(apperr.Gone, "this invite has been used up")
	case err != nil:
		return model.Server{}, unavailable(err, "join server")
	}
	s.clearAccess()
	srv, err := s.Server(ctx, caller, serverID)
	if err != nil {
		return srv, err
	}
	m, err := s.store.Member(ctx, serverID, caller)
	chans, err2 := s.store.Channels(ctx, serverID)
	if err == nil && err2 == nil {
		s.notify.MemberJoined(srv, m, channelIDs(chans))
	}
	return srv, nil
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
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return err
	}
	if role == model.RoleOwner {
		return apperr.New(apperr.Conflict, "the owner cannot leave the server; delete it instead")
	}
	return s.removeMember(ctx, serverID, caller, "left")
}

// Kick removes another member (owner, or admin for plain members).
func (s *Service) Kick(ctx context.Context, caller, serverID, target int64) error {
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
	if targetRole == model.RoleOwner || (targetRole == model.RoleAdmin && role != model.RoleOwner) {
		return apperr.New(apperr.Forbidden, "you cannot remove a member with an equal or higher role")
	}
	return s.removeMember(ctx, serverID, target, "kicked")
}

func (s *Service) removeMember(ctx context.Context, serverID, userID int64, action string) error {
	chans, err := s.store.Channels(ctx, serverID)
	if err != nil {
		return unavailable(err, "list channels")
	}
	if err := s.store.RemoveMember(ctx, serverID, userID); err != nil {
		return unavailable(err, "remove member")
	}
	s.clearAccess()
	s.notify.MemberLeft(serverID, userID, channelIDs(chans), action)
	return nil
}

// SetRole promotes a member to admin or demotes an admin (owner only).
func (s *Service) SetRole(ctx context.Context, caller, serverID, target int64, newRole string) (model.Member, error) {
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

// views decorates channels with metadata and the caller's read state.
func (s *Service) views(ctx context.Context, caller int64, chans []model.Channel) ([]View, error) {
	metas, err := s.meta.Get(ctx, channelIDs(chans))
	if err != nil {
		return nil, unavailable(err, "load channel metadata")
	}
	out := make([]View, len(chans))
	for i, c := range chans {
		m := metas[c.ID]
		m.ChannelID = c.ID
		out[i] = View{Channel: c, Meta: m}
	}
	if s.reads != nil {
		if err := s.reads.Annotate(ctx, caller, out); err != nil {
			return nil, unavailable(err, "load read state")
		}
	}
	return out, nil
}

// Channels lists a server's channels with unread state.
func (s *Service) Channels(ctx context.Context, caller, serverID int64) ([]View, error) {
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
func (s *Service) CreateChannel(ctx context.Context, caller, serverID int64, name, topic string) (View, error) {
	role, err := s.role(ctx, serverID, caller)
	if err != nil {
		return View{}, err
	}
	if !isAdmin(role) {
		return View{}, errNotAdmin
	}
	if name, err = normalizeChannelName(name); err != nil {
		return View{}, err
	}
	if topic, err = validTopic(topic); err != nil {
		return View{}, err
	}
	c := model.Channel{ID: s.ids.Next(), ServerID: serverID, Kind: model.ChannelText, Name: name, CreatedAt: s.now().UTC()}
	if err := s.store.CreateChannel(ctx, c); errors.Is(err, model.ErrConflict) {
		return View{}, &apperr.Error{Kind: apperr.Conflict, Field: "name", Message: "a channel with that name already exists"}
	} else if err != nil {
		return View{}, unavailable(err, "create channel")
	}
	if topic != "" {
		if err := s.meta.SetTopic(ctx, c.ID, topic); err != nil {
			s.log.Warn("channel created without its topic", "channel", c.ID, "err", err)
		}
	}
	s.clearAccess()
	v := View{Channel: c, Meta: model.ChannelMeta{ChannelID: c.ID, Topic: topic}}
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
func (s *Service) UpdateChannel(ctx context.Context, caller, channelID int64, name, topic *string) (View, error) {
	c, err := s.adminChannel(ctx, caller, channelID)
	if err != nil {
		return View{}, err
	}
	if name != nil {
		n, err := normalizeChannelName(*name)
		if err != nil {
			return View{}, err
		}
		if err := s.store.RenameChannel(ctx, channelID, n); errors.Is(err, model.ErrConflict) {
			return View{}, &apperr.Error{Kind: apperr.Conflict, Field: "name", Message: "a channel with that name already exists"}
		} else if err != nil {
			return View{}, unavailable(err, "rename channel")
		}
		c.Name = n
	}
	if topic != nil {
		t, err := validTopic(*topic)
		if err != nil {
			return View{}, err
		}
		if err := s.meta.SetTopic(ctx, channelID, t); err != nil {
			return View{}, unavailable(err, "set topic")
		}
	}
	vs, err := s.views(ctx, caller, []model.Channel{c})
	if err != nil {
		return View{}, err
	}
	s.notify.ChannelChanged(c, vs[0].Meta, "updated")
	return vs[0], nil
}

// DeleteChannel removes a channel (owner or admin).
func (s *Service) DeleteChannel(ctx context.Context, caller, channelID int64) error {
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

// CreateDM opens a direct message with other users: 1:1 DMs are unique per pair, group DMs (up to 10 people)
// are new each time.
func (s *Service) CreateDM(ctx context.Context, caller int64, others []int64) (View, bool, error) {
	set := map[int64]bool{caller: true}
	for _, id := range others {
		set[id] = true
	}
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) < 2 {
		return View{}, false, apperr.InvalidField("userIds", "name at least one other user")
	}
	if len(ids) > 10 {
		return View{}, false, apperr.InvalidField("userIds", "a group DM has at most 10 people")
	}
	users, err := s.users.ByIDs(ctx, ids)
	if err != nil {
		return View{}, false, unavailable(err, "load users")
	}
	if len(users) != len(ids) {
		return View{}, false, apperr.InvalidField("userIds", "some of those users do not exist")
	}
	key := ""
	if len(ids) == 2 {
		key = strconv.FormatInt(ids[0], 10) + ":" + strconv.FormatInt(ids[1], 10)
	}
	c, created, err := s.store.FindOrCreateDM(ctx, model.Channel{ID: s.ids.Next()}, ids, key)
	if err != nil {
		return View{}, false, unavailable(err, "create DM")
	}
	c.Participants = users
	s.clearAccess()
	if created {
		s.notify.DMCreated(c, ids)
	}
	vs, err := s.views(ctx, caller, []model.Channel{c})
	if err != nil {
		return View{}, false, err
	}
	return vs[0], created, nil
}

// DMs lists the caller's DMs, most recently active first.
func (s *Service) DMs(ctx context.Context, caller int64) ([]View, error) {
	chans, err := s.store.DMsOf(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list DMs")
	}
	vs, err := s.views(ctx, caller, chans)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(vs, func(a, b View) int {
		la, lb := max(a.Meta.LastMessageID, a.Channel.ID), max(b.Meta.LastMessageID, b.Channel.ID)
		switch {
		case la > lb:
			return -1
		case la < lb:
			return 1
		}
		return 0
	})
	return vs, nil
}

// CanRead returns the channel if the user may read (and write) it, else NotFound. Answers, "no" included, are
// cached briefly; while Postgres is unreachable, a recent "yes" still stands (staleTTL).
func (s *Service) CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
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

// ForgetAccess clears the access cache (another node changed memberships).
func (s *Service) ForgetAccess() {
	s.accessMu.Lock()
	s.access = map[[2]int64]accessEntry{}
	s.lists = map[[2]int64]listEntry{}
	s.accessGen++
	s.accessMu.Unlock()
}

// ReadableChannelIDs lists the channels a user can read (for socket rooms). While Postgres cannot answer, the
// last list read within staleTTL stands in, so a socket that reconnects during an outage gets its rooms back.
func (s *Service) ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	return s.lastKnown(ctx, [2]int64{userID, 'c'}, func(ctx context.Context) ([]int64, error) { return s.store.ReadableChannelIDs(ctx, userID) })
}

// ServerIDs lists a user's servers (for socket rooms); like ReadableChannelIDs during an outage.
func (s *Service) ServerIDs(ctx context.Context, userID int64) ([]int64, error) {
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
	return s.store.DMChannelIDs(ctx, userID)
}

// SharedUserIDs filters `others` to those sharing a server or DM with the user (presence visibility).
func (s *Service) SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error) {
	return s.store.SharedUserIDs(ctx, userID, others)
}

// ServerSizes returns the member count of each given server (presence paces announcements to large servers);
// servers that do not exist are left out.
func (s *Service) ServerSizes(ctx context.Context, serverIDs []int64) (map[int64]int, error) {
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
	users, err := s.store.ChannelReaders(ctx, channelID, usernames, ids)
	if err != nil {
		return nil, unavailable(err, "resolve mentions")
	}
	return users, nil
}

// ServerChannels lists a server's channels (no access check: callers checked the channel they came from).
func (s *Service) ServerChannels(ctx context.Context, serverID int64) ([]model.Channel, error) {
	chans, err := s.store.Channels(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list channels")
	}
	return chans, nil
}
