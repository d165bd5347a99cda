package community

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// AccessStore is what the access checks read (Postgres).
type AccessStore interface {
	CanRead(ctx context.Context, channelID, userID int64) (model.Channel, string, error)
	ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	ServerIDs(ctx context.Context, userID int64) ([]int64, error)
	DMChannelIDs(ctx context.Context, userID int64) ([]int64, error)
	SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error)
	ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error)
	DMBlockers(ctx context.Context, channelID int64) ([]int64, error)
	Blocked(ctx context.Context, userID int64) ([]model.User, error)
}

// Access answers "may this user read (write in) this channel?" and "who shares a room with whom?" for every other
// service, from caches that every membership or block change clears (on this node, and through peers on the
// others). Membership and Conversations report their changes to it.
type Access struct {
	store AccessStore
	peers Peers
	now   func() time.Time

	// cache holds CanRead answers: every message send asks. lists holds the last room lists per user ({user,
	// 'c'|'s'}), for outages. dmBlocked caches, per 1:1 DM, whether a block forbids sending in it.
	accessMu  sync.Mutex
	cache     map[[2]int64]accessEntry
	lists     map[[2]int64]listEntry
	dmBlocked map[int64]blockedEntry
	// accessGen counts ForgetAccess calls: an answer read from Postgres is cached only if none came meanwhile.
	accessGen uint64
}

// NewAccess builds the access checks; peers is nil on a single node.
func NewAccess(store AccessStore, peers Peers) *Access {
	return &Access{store: store, peers: peers, now: time.Now,
		cache: map[[2]int64]accessEntry{}, lists: map[[2]int64]listEntry{}, dmBlocked: map[int64]blockedEntry{}}
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

type blockedEntry struct {
	blockers []int64
	until    time.Time
}

const (
	accessTTL = 10 * time.Second
	// staleTTL bounds how long a last known answer (access, room lists) stands in while Postgres is down, so
	// connected people keep talking through an outage. Membership changes need Postgres, so none can be missed;
	// kicks and revocations before the outage cleared the entries they concern.
	staleTTL = 10 * time.Minute
)

// CanRead returns the channel if the user may read (and write) it, else NotFound. Answers, "no" included, are
// cached briefly; while Postgres is unreachable, a recent "yes" still stands (staleTTL).
func (s *Access) CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
	ctx, span := tracing.Start(ctx, "community.CanRead")
	defer span.End()
	key := [2]int64{channelID, userID}
	now := s.now()
	s.accessMu.Lock()
	e, ok := s.cache[key]
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
	if len(s.cache) > 200_000 {
		s.cache = map[[2]int64]accessEntry{}
	}
	if gen == s.accessGen { // else memberships changed while Postgres answered: the answer may predate it
		s.cache[key] = accessEntry{channel: c, role: role, denied: denied, fresh: now.Add(accessTTL), usable: now.Add(staleTTL)}
	}
	s.accessMu.Unlock()
	if denied {
		return c, "", errNoChannel
	}
	return c, role, nil
}

// changed clears the caches here and on the other nodes (a membership or block changed).
func (s *Access) changed() {
	s.ForgetAccess()
	if s.peers != nil {
		s.peers.AccessChanged()
	}
}

// ForgetAccess clears the access caches (another node changed memberships or blocks).
func (s *Access) ForgetAccess() {
	s.accessMu.Lock()
	s.cache = map[[2]int64]accessEntry{}
	s.lists = map[[2]int64]listEntry{}
	s.accessGen++
	s.dmBlocked = map[int64]blockedEntry{}
	s.accessMu.Unlock()
}

// ReadableChannelIDs lists the channels a user can read (for socket rooms). While Postgres cannot answer, the
// last list read within staleTTL stands in, so a socket that reconnects during an outage gets its rooms back.
func (s *Access) ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.ReadableChannelIDs")
	defer span.End()
	return s.lastKnown(ctx, [2]int64{userID, 'c'}, func(ctx context.Context) ([]int64, error) { return s.store.ReadableChannelIDs(ctx, userID) })
}

// ServerIDs lists a user's servers (for socket rooms); like ReadableChannelIDs during an outage.
func (s *Access) ServerIDs(ctx context.Context, userID int64) ([]int64, error) {
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
func (s *Access) lastKnown(ctx context.Context, key [2]int64, read func(context.Context) ([]int64, error)) ([]int64, error) {
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
func (s *Access) DMChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.DMChannelIDs")
	defer span.End()
	return s.store.DMChannelIDs(ctx, userID)
}

// SharedUserIDs filters `others` to those sharing a server or DM with the user (presence visibility).
func (s *Access) SharedUserIDs(ctx context.Context, userID int64, others []int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.SharedUserIDs")
	defer span.End()
	return s.store.SharedUserIDs(ctx, userID, others)
}

// ChannelReaders returns the users who can read a channel among the given usernames (lower case) and ids, or
// all of them when both are nil (mentions).
func (s *Access) ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error) {
	ctx, span := tracing.Start(ctx, "community.ChannelReaders")
	defer span.End()
	users, err := s.store.ChannelReaders(ctx, channelID, usernames, ids)
	if err != nil {
		return nil, unavailable(err, "resolve mentions")
	}
	return users, nil
}

// CanSend refuses a message in a 1:1 DM in which one participant blocks the other (either way: Discord does
// the same). Text channels and group DMs always pass. Answers are cached like access, cleared by block changes.
func (s *Access) CanSend(ctx context.Context, userID int64, ch model.Channel) error {
	ctx, span := tracing.Start(ctx, "community.CanSend")
	defer span.End()
	if ch.Kind != model.ChannelDM {
		return nil
	}
	now := s.now()
	s.accessMu.Lock()
	e, ok := s.dmBlocked[ch.ID]
	s.accessMu.Unlock()
	if !ok || !now.Before(e.until) {
		blockers, err := s.store.DMBlockers(ctx, ch.ID)
		if err != nil {
			return unavailable(err, "check blocks")
		}
		e = blockedEntry{blockers: blockers, until: now.Add(accessTTL)}
		s.accessMu.Lock()
		if len(s.dmBlocked) > 100_000 {
			s.dmBlocked = map[int64]blockedEntry{}
		}
		s.dmBlocked[ch.ID] = e
		s.accessMu.Unlock()
	}
	switch {
	case len(e.blockers) == 0:
		return nil
	case slices.Contains(e.blockers, userID):
		return apperr.New(apperr.Forbidden, "you blocked this user: unblock them to send messages")
	default:
		return apperr.New(apperr.Forbidden, "your message could not be delivered: this user does not accept your messages")
	}
}

// CanWrite is CanRead plus CanSend: may the user write in the channel now (typing indicators ask this).
func (s *Access) CanWrite(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
	ctx, span := tracing.Start(ctx, "community.CanWrite")
	defer span.End()
	c, role, err := s.CanRead(ctx, userID, channelID)
	if err != nil {
		return c, role, err
	}
	return c, role, s.CanSend(ctx, userID, c)
}

// BlockedIDs lists the ids of the users userID blocks (readstate leaves their messages out of unread counts).
func (s *Access) BlockedIDs(ctx context.Context, userID int64) ([]int64, error) {
	ctx, span := tracing.Start(ctx, "community.BlockedIDs")
	defer span.End()
	us, err := s.store.Blocked(ctx, userID)
	if err != nil {
		return nil, unavailable(err, "list blocked users")
	}
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids, nil
}
