// Package community owns servers (communities), their members and roles, channels, invites and direct
// messages, and answers "may this user read this channel?" for everyone else. It is three parts, each with its
// own small store interfaces: Access (access.go: the cached access checks and room lists every other service
// asks; built first), Membership (servers.go, invites.go, bans.go: servers, members, roles, invites, bans) and
// Conversations (channels.go, dms.go: text channels, DMs, blocks). The last two tell Access when who-may-read-what
// changed. Service puts the three together for callers that need several.
package community

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/rules"
)

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

// Store is everything the community side stores: one Postgres store implements it.
type Store interface {
	AccessStore
	MembershipStore
	ConversationStore
}

// Service is the community side in one value, for callers that need several of its parts (the HTTP handlers,
// presence); the composition root hands a part on its own where one is enough.
type Service struct {
	*Access
	*Membership
	*Conversations
}

// New builds the three parts on one store. peers is nil on a single node.
func New(store Store, meta MetaStore, users Users, notify Notifier, ids IDs, peers Peers, limits Limits, log *slog.Logger) *Service {
	access := NewAccess(store, peers)
	return &Service{
		Access:        access,
		Membership:    NewMembership(store, meta, users, notify, ids, access, limits, log),
		Conversations: NewConversations(store, meta, users, notify, ids, access, limits, log),
	}
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

// role returns the caller's role; non-members get NotFound (a server you are not in does not exist for you).
func role(ctx context.Context, store interface {
	Role(ctx context.Context, serverID, userID int64) (string, error)
}, serverID, userID int64) (string, error) {
	r, err := store.Role(ctx, serverID, userID)
	if errors.Is(err, model.ErrNotFound) {
		return "", errNoServer
	}
	if err != nil {
		return "", unavailable(err, "check membership")
	}
	return r, nil
}

func isAdmin(role string) bool { return role == model.RoleOwner || role == model.RoleAdmin }

// requireAdmin returns the caller's role if it is owner or admin; NotFound for non-members, Forbidden for plain
// members.
func requireAdmin(ctx context.Context, store interface {
	Role(ctx context.Context, serverID, userID int64) (string, error)
}, serverID, caller int64) (string, error) {
	r, err := role(ctx, store, serverID, caller)
	if err != nil {
		return "", err
	}
	if !isAdmin(r) {
		return "", errNotAdmin
	}
	return r, nil
}

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

func channelIDs(cs []model.Channel) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
