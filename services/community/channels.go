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

// ChannelStore keeps a server's text channels (Postgres).
type ChannelStore interface {
	Role(ctx context.Context, serverID, userID int64) (string, error)
	Channels(ctx context.Context, serverID int64) ([]model.Channel, error)
	CanRead(ctx context.Context, channelID, userID int64) (model.Channel, string, error) // uncached: admins' changes
	CreateChannel(ctx context.Context, c model.Channel, maxChannels int) error
	RenameChannel(ctx context.Context, channelID int64, name string) error
	DeleteChannel(ctx context.Context, channelID int64) error
}

// ConversationStore is what channels and DMs need: one Postgres store implements it.
type ConversationStore interface {
	ChannelStore
	DMStore
	BlockStore
}

// Conversations owns the places people talk: a server's text channels, and direct messages (1:1 and group)
// with the consent rules around them (blocks, who may open a DM).
type Conversations struct {
	channels ChannelStore
	dms      DMStore
	blocks   BlockStore
	meta     MetaStore
	users    Users
	notify   Notifier
	ids      IDs
	access   *Access // told of every change of who may read what
	log      *slog.Logger
	now      func() time.Time

	limits Limits
	dmRate *ratelimit.Keyed // per-user creation of new DMs (this node's)
}

// NewConversations builds the channel and DM rules.
func NewConversations(store ConversationStore, meta MetaStore, users Users, notify Notifier, ids IDs, access *Access, limits Limits, log *slog.Logger) *Conversations {
	limits.defaults()
	return &Conversations{channels: store, dms: store, blocks: store, meta: meta, users: users, notify: notify, ids: ids,
		access: access, log: log, now: time.Now, limits: limits, dmRate: ratelimit.New(limits.DMEvery, limits.DMBurst)}
}

// views decorates channels with their metadata (the caller's read state is added by the read state service).
func (s *Conversations) views(ctx context.Context, caller int64, chans []model.Channel) ([]model.ChannelView, error) {
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
func (s *Conversations) Channels(ctx context.Context, caller, serverID int64) ([]model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.Channels")
	defer span.End()
	if _, err := role(ctx, s.channels, serverID, caller); err != nil {
		return nil, err
	}
	chans, err := s.channels.Channels(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list channels")
	}
	return s.views(ctx, caller, chans)
}

// CreateChannel adds a text channel (owner or admin).
func (s *Conversations) CreateChannel(ctx context.Context, caller, serverID int64, name, topic string) (model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.CreateChannel")
	defer span.End()
	_, err := requireAdmin(ctx, s.channels, serverID, caller)
	if err != nil {
		return model.ChannelView{}, err
	}
	if name, err = normalizeChannelName(name); err != nil {
		return model.ChannelView{}, err
	}
	if topic, err = validTopic(topic); err != nil {
		return model.ChannelView{}, err
	}
	c := model.Channel{ID: s.ids.Next(), ServerID: serverID, Kind: model.ChannelText, Name: name, CreatedAt: s.now().UTC()}
	if err := s.channels.CreateChannel(ctx, c, s.limits.ChannelsPerServer); errors.Is(err, model.ErrLimitReached) {
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
	s.access.changed()
	v := model.ChannelView{Channel: c, Meta: model.ChannelMeta{ChannelID: c.ID, Topic: topic}}
	s.notify.ChannelChanged(c, v.Meta, "created")
	return v, nil
}

func (s *Conversations) adminChannel(ctx context.Context, caller, channelID int64) (model.Channel, error) {
	c, role, err := s.channels.CanRead(ctx, channelID, caller)
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
func (s *Conversations) UpdateChannel(ctx context.Context, caller, channelID int64, name, topic *string) (model.ChannelView, error) {
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
		if err := s.channels.RenameChannel(ctx, channelID, n); errors.Is(err, model.ErrConflict) {
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
func (s *Conversations) DeleteChannel(ctx context.Context, caller, channelID int64) error {
	ctx, span := tracing.Start(ctx, "community.DeleteChannel")
	defer span.End()
	c, err := s.adminChannel(ctx, caller, channelID)
	if err != nil {
		return err
	}
	if err := s.channels.DeleteChannel(ctx, channelID); err != nil {
		return unavailable(err, "delete channel")
	}
	s.access.changed()
	_ = s.meta.Delete(ctx, []int64{channelID})
	s.notify.ChannelDeleted(c)
	return nil
}

// ServerChannels lists a server's channels (no access check: callers checked the channel they came from).
func (s *Conversations) ServerChannels(ctx context.Context, serverID int64) ([]model.Channel, error) {
	ctx, span := tracing.Start(ctx, "community.ServerChannels")
	defer span.End()
	chans, err := s.channels.Channels(ctx, serverID)
	if err != nil {
		return nil, unavailable(err, "list channels")
	}
	return chans, nil
}
