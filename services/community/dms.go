package community

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// DMStore keeps direct messages: who is in them, closing and leaving (Postgres).
type DMStore interface {
	FindOrCreateDM(ctx context.Context, c model.Channel, participantIDs []int64, key string) (model.Channel, bool, error)
	DMsOf(ctx context.Context, userID int64) ([]model.Channel, error)
	DMByKey(ctx context.Context, key string) (int64, error)
	DMGroup(ctx context.Context, channelID, userID int64) (bool, error)
	CloseDM(ctx context.Context, channelID, userID, after int64) error
	ReopenDMs(ctx context.Context, userID int64, channelIDs []int64) error
	LeaveDM(ctx context.Context, channelID, userID int64) (remaining []int64, err error)
	NotDMable(ctx context.Context, userID int64, others []int64) ([]int64, error)
}

// BlockStore keeps DM consent: blocks and who accepts DMs from whom (Postgres).
type BlockStore interface {
	Block(ctx context.Context, blocker, blocked int64) error
	Unblock(ctx context.Context, blocker, blocked int64) error
	Blocked(ctx context.Context, userID int64) ([]model.User, error)
	Blocks(ctx context.Context, userID int64, others []int64) (blockedByMe, blockingMe []int64, err error)
	DMPolicy(ctx context.Context, userID int64) (string, error)
	SetDMPolicy(ctx context.Context, userID int64, policy string) error
}

// CreateDM opens a direct message with other users: 1:1 DMs are unique per pair (asking again reopens it, also
// after it was closed), group DMs (up to Limits.GroupDMSize people) are new each time. A new DM needs consent:
// every other person must share a server or a DM with the caller, or accept DMs from everyone; nobody may be
// blocked by, or block, the caller; and the caller may create only so many new DMs (Limits.DMEvery/DMBurst).
func (s *Conversations) CreateDM(ctx context.Context, caller int64, others []int64) (model.ChannelView, bool, error) {
	ctx, span := tracing.Start(ctx, "community.CreateDM")
	defer span.End()
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
		return model.ChannelView{}, false, apperr.InvalidField("userIds", "name at least one other user")
	}
	if len(ids) > s.limits.GroupDMSize {
		return model.ChannelView{}, false, apperr.InvalidField("userIds", "a group DM has at most "+strconv.Itoa(s.limits.GroupDMSize)+" people")
	}
	users, err := s.users.ByIDs(ctx, ids)
	if err != nil {
		return model.ChannelView{}, false, unavailable(err, "load users")
	}
	if len(users) != len(ids) {
		return model.ChannelView{}, false, apperr.InvalidField("userIds", "some of those users do not exist")
	}
	key := ""
	if len(ids) == 2 {
		key = strconv.FormatInt(ids[0], 10) + ":" + strconv.FormatInt(ids[1], 10)
	}
	existing := false
	if key != "" {
		_, err := s.dms.DMByKey(ctx, key)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return model.ChannelView{}, false, unavailable(err, "look the DM up")
		}
		existing = err == nil
	}
	if !existing {
		if err := s.mayOpenDM(ctx, caller, ids, users); err != nil {
			return model.ChannelView{}, false, err
		}
	}
	c, created, err := s.dms.FindOrCreateDM(ctx, model.Channel{ID: s.ids.Next()}, ids, key)
	if err != nil {
		return model.ChannelView{}, false, unavailable(err, "create DM")
	}
	c.Participants = users
	if !created {
		if err := s.dms.ReopenDMs(ctx, caller, []int64{c.ID}); err != nil {
			return model.ChannelView{}, false, unavailable(err, "reopen DM")
		}
	}
	s.access.changed()
	if created {
		s.notify.DMCreated(c, ids)
	}
	vs, err := s.views(ctx, caller, []model.Channel{c})
	if err != nil {
		return model.ChannelView{}, false, err
	}
	return vs[0], created, nil
}

// mayOpenDM checks consent and the creation rate for a new DM among ids (the caller included).
func (s *Conversations) mayOpenDM(ctx context.Context, caller int64, ids []int64, users []model.User) error {
	others := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id == caller })
	name := func(id int64) string {
		for _, u := range users {
			if u.ID == id {
				return "@" + u.Username
			}
		}
		return "that user"
	}
	blockedByMe, blockingMe, err := s.blocks.Blocks(ctx, caller, others)
	if err != nil {
		return unavailable(err, "check blocks")
	}
	if len(blockedByMe) > 0 {
		return &apperr.Error{Kind: apperr.Forbidden, Field: "userIds", Message: "you blocked " + name(blockedByMe[0]) + ": unblock them first"}
	}
	refused := blockingMe // told apart from privacy refusals by nothing: a block is not revealed
	if len(refused) == 0 {
		if refused, err = s.dms.NotDMable(ctx, caller, others); err != nil {
			return unavailable(err, "check DM settings")
		}
	}
	if len(refused) > 0 {
		return &apperr.Error{Kind: apperr.Forbidden, Field: "userIds",
			Message: name(refused[0]) + " accepts direct messages only from people who share a server with them"}
	}
	if ok, wait := s.dmRate.Allow(strconv.FormatInt(caller, 10)); !ok {
		return &apperr.Error{Kind: apperr.RateLimited, Message: "you are opening new conversations too fast, try again later", RetryAfter: wait}
	}
	return nil
}

// ReadStates adds a user's read positions and unread counts to channel views. The read state service depends on
// this one (access checks), so it is not built into it: DMs is handed it by its caller (the HTTP handler).
type ReadStates interface {
	Annotate(ctx context.Context, userID int64, views []model.ChannelView) error
}

// DMs lists the caller's DMs with their read state (reads; nil: none), most recently active first. A DM the
// caller closed is left out until a message newer than the close arrives (or one they have not read); then it
// is listed, and stays listed, again.
func (s *Conversations) DMs(ctx context.Context, caller int64, reads ReadStates) ([]model.ChannelView, error) {
	ctx, span := tracing.Start(ctx, "community.DMs")
	defer span.End()
	chans, err := s.dms.DMsOf(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list DMs")
	}
	vs, err := s.views(ctx, caller, chans)
	if err != nil {
		return nil, err
	}
	if reads != nil {
		if err := reads.Annotate(ctx, caller, vs); err != nil {
			return nil, unavailable(err, "load read state")
		}
	}
	var reopened []int64
	vs = slices.DeleteFunc(vs, func(v model.ChannelView) bool {
		closed := v.Channel.ClosedAfter
		if closed == 0 {
			return false
		}
		if v.Meta.LastMessageID > closed || v.UnreadCount > 0 {
			reopened = append(reopened, v.Channel.ID)
			return false
		}
		return true
	})
	if len(reopened) > 0 {
		if err := s.dms.ReopenDMs(ctx, caller, reopened); err != nil {
			s.log.WarnContext(ctx, "closed DMs with new messages not reopened", "user", caller, "err", err)
		}
	}
	slices.SortStableFunc(vs, func(a, b model.ChannelView) int {
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

// CloseDM is Discord's "close DM" / "leave group": a 1:1 DM disappears from the caller's list (their other
// tabs are told) until a new message arrives, and the caller still receives it; the caller leaves a group DM:
// their sockets leave its room on every node, the others see them go, and it is deleted once empty. It reports
// whether the caller left a group.
func (s *Conversations) CloseDM(ctx context.Context, caller, channelID int64) (bool, error) {
	ctx, span := tracing.Start(ctx, "community.CloseDM")
	defer span.End()
	group, err := s.dms.DMGroup(ctx, channelID, caller)
	if errors.Is(err, model.ErrNotFound) {
		return false, errNoChannel
	}
	if err != nil {
		return false, unavailable(err, "load DM")
	}
	if !group {
		if err := s.dms.CloseDM(ctx, channelID, caller, s.ids.Next()); errors.Is(err, model.ErrNotFound) {
			return false, errNoChannel
		} else if err != nil {
			return false, unavailable(err, "close DM")
		}
		s.notify.DMClosed(channelID, caller)
		return false, nil
	}
	remaining, err := s.dms.LeaveDM(ctx, channelID, caller)
	if errors.Is(err, model.ErrNotFound) {
		return false, errNoChannel
	}
	if err != nil {
		return false, unavailable(err, "leave group DM")
	}
	s.access.changed()
	c := model.Channel{ID: channelID, Kind: model.ChannelDM, Group: true}
	if len(remaining) == 0 {
		if err := s.meta.Delete(ctx, []int64{channelID}); err != nil {
			s.log.WarnContext(ctx, "channel metadata left behind", "channel", channelID, "err", err)
		}
	} else if c.Participants, err = s.users.ByIDs(ctx, remaining); err != nil {
		s.log.WarnContext(ctx, "group DM members not announced", "channel", channelID, "err", err)
	}
	s.notify.DMLeft(c, caller, remaining)
	return true, nil
}

// Block blocks a user for the caller: they can no longer open a DM or group DM with the caller, nobody can
// send in the 1:1 DM between them, and neither sees the other's presence through a DM.
func (s *Conversations) Block(ctx context.Context, caller, target int64) error {
	ctx, span := tracing.Start(ctx, "community.Block")
	defer span.End()
	if target == caller {
		return apperr.New(apperr.Invalid, "you cannot block yourself")
	}
	if err := s.blocks.Block(ctx, caller, target); errors.Is(err, model.ErrNotFound) {
		return apperr.New(apperr.NotFound, "that user does not exist")
	} else if err != nil {
		return unavailable(err, "block")
	}
	s.access.changed()
	return nil
}

// Unblock lifts a block (a no-op when there was none).
func (s *Conversations) Unblock(ctx context.Context, caller, target int64) error {
	ctx, span := tracing.Start(ctx, "community.Unblock")
	defer span.End()
	if err := s.blocks.Unblock(ctx, caller, target); err != nil {
		return unavailable(err, "unblock")
	}
	s.access.changed()
	return nil
}

// Blocked lists the users the caller blocks.
func (s *Conversations) Blocked(ctx context.Context, caller int64) ([]model.User, error) {
	ctx, span := tracing.Start(ctx, "community.Blocked")
	defer span.End()
	us, err := s.blocks.Blocked(ctx, caller)
	if err != nil {
		return nil, unavailable(err, "list blocked users")
	}
	return us, nil
}

// DMPolicy says who may open a new DM with the caller: model.DMFromServerMembers (default) or DMFromEveryone.
func (s *Conversations) DMPolicy(ctx context.Context, caller int64) (string, error) {
	ctx, span := tracing.Start(ctx, "community.DMPolicy")
	defer span.End()
	p, err := s.blocks.DMPolicy(ctx, caller)
	if err != nil {
		return "", unavailable(err, "load privacy settings")
	}
	return p, nil
}

// SetDMPolicy changes who may open a new DM with the caller (existing DMs stay).
func (s *Conversations) SetDMPolicy(ctx context.Context, caller int64, policy string) (string, error) {
	ctx, span := tracing.Start(ctx, "community.SetDMPolicy")
	defer span.End()
	if policy != model.DMFromServerMembers && policy != model.DMFromEveryone {
		return "", apperr.InvalidField("allowDMsFrom", `allowDMsFrom must be "server_members" or "everyone"`)
	}
	if err := s.blocks.SetDMPolicy(ctx, caller, policy); err != nil {
		return "", unavailable(err, "save privacy settings")
	}
	return policy, nil
}
