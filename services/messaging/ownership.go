package messaging

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// Several nodes. Each channel has one owner at a time: the node that holds its lease (services/cluster).
// The owner does what a single node does (ids under the conversation lock, the durable write, then the
// announcement); other nodes forward sends, edits and deletes to it and read history from Cassandra.
//
// Fencing. A lease is only as good as its holder's clock: a node frozen (SIGSTOP, a long GC pause, a VM
// migration) past its lease may wake up in the middle of a write. Two things keep such a zombie harmless:
//   - Every write of an owner carries a timestamp no later than its node lease's deadline (stamp), and a new
//     owner that takes a channel from a dead holder first writes a range tombstone over every id above the
//     newest row it can read, timestamped later than anything the old owner may stamp (Fence). A zombie's late
//     write lands under that tombstone and is never seen; its senders retry and the new owner stores them.
//   - An owner announces and acknowledges only if its lease is still current after the write (stillOwner).
//     A write that returned before the deadline was readable before any takeover, so the new owner's retry
//     horizon knows it: nothing announced is ever hidden, nothing hidden was ever acknowledged.
// This assumes node clocks within fenceMargin of each other (NTP), as Cassandra's last-write-wins does anyway.

// Ownership decides which node orders a channel's messages.
type Ownership interface {
	Owner(channelID int64) (node int64, local bool)
	Acquire(ctx context.Context, channelID int64) (model.ChannelLease, error)
	Release(ctx context.Context, channelID int64, l model.ChannelLease) error
	// Deadline is when this node's lease (and so every channel lease it holds) may end; zero when lost.
	Deadline() time.Time
}

// Forwarder carries calls for a channel to the node that owns it.
type Forwarder interface {
	Send(ctx context.Context, node int64, draft model.Message) (model.Message, error)
	Edit(ctx context.Context, node, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error)
	Delete(ctx context.Context, node, userID, channelID, messageID int64) error
	// History of the newest page (the owner serves it from memory).
	History(ctx context.Context, node, userID, channelID int64, limit int) (Page, error)
}

const (
	// fenceMargin bounds the clock difference between nodes that fencing tolerates.
	fenceMargin = time.Second
	// forwardTimeout bounds a forwarded send (the owner's durable write included).
	forwardTimeout = 15 * time.Second
)

var (
	// errMoved: the channel has (or is getting) another owner; the client retries and reaches it.
	errMoved = &apperr.Error{Kind: apperr.Unavailable, Message: "this channel is moving to another server; retry shortly"}
	// errLapsed: this node cannot confirm its lease right now (Redis is slow or away); writes wait.
	errLapsed = errors.New("messaging: this node's lease is not current")
)

// route returns the node that orders a channel's messages and whether it is this one.
func (s *Service) route(channelID int64) (int64, bool) {
	if s.owners == nil || s.forward == nil {
		return 0, true
	}
	return s.owners.Owner(channelID)
}

// prepare readies a conversation for its first write: on one node, the retry horizon; on several, the lease
// and, after a takeover, the fence (see above), then the retry horizon and the id floor.
func (s *Service) prepare(conv *conversation) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.owners == nil {
		return s.loadHorizon(ctx, conv)
	}
	conv.mu.Lock()
	lost, owned, lease := conv.lost, conv.owned, conv.lease
	conv.mu.Unlock()
	switch {
	case lost:
		return errMoved
	case owned:
		return nil
	}
	if lease == nil {
		l, err := s.owners.Acquire(ctx, conv.id)
		if errors.Is(err, model.ErrLeaseHeld) {
			return errMoved
		}
		if err != nil {
			return err
		}
		lease = &l
		conv.mu.Lock()
		conv.lease = lease // held from here on, even if the steps below fail and are retried
		conv.mu.Unlock()
	}
	if err := s.loadHorizon(ctx, conv); err != nil {
		return err
	}
	conv.mu.Lock()
	newest := conv.lastID
	conv.mu.Unlock()
	floor := s.now().Add(fenceMargin).UnixMicro()
	if lease.TakenOver {
		if newest == 0 { // nothing within the retry horizon: the newest row is older
			n, err := s.store.Newest(ctx, conv.id)
			if err != nil {
				return err
			}
			newest = n
		}
		// The dead owner's ids are newer than its acquisition (clocks within fenceMargin), which bounds the
		// buckets to fence.
		after := newest
		if !lease.PreviousAcquiredAt.IsZero() {
			after = max(after, snowflake.FirstIDAt(lease.PreviousAcquiredAt.Add(-fenceMargin))-1)
		}
		if err := s.store.Fence(ctx, conv.id, after, s.now().Add(time.Minute), floor); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "channel taken over from a dead owner", "channel", conv.id, "epoch", lease.Epoch, "fenced_after", after)
	}
	conv.mu.Lock()
	conv.lastID = max(conv.lastID, newest)
	conv.tsFloor = max(conv.tsFloor, floor) // above every stamp of a previous owner, also after a handoff
	conv.owned = true
	conv.mu.Unlock()
	return nil
}

// fencedClock hands out strictly increasing write timestamps for this node (µs), so a later write of a cell
// always wins over an earlier one, even when a floor moved the clock ahead of the wall clock.
type fencedClock struct{ last atomic.Int64 }

func (c *fencedClock) next(min int64) int64 {
	for {
		last := c.last.Load()
		ts := max(last+1, min)
		if c.last.CompareAndSwap(last, ts) {
			return ts
		}
	}
}

// stamp returns the timestamp for a write to a channel this node owns (0 on one node: Cassandra's choice).
func (s *Service) stamp(conv *conversation) (int64, error) {
	if s.owners == nil {
		return 0, nil
	}
	deadline := s.owners.Deadline()
	if !time.Now().Before(deadline) {
		return 0, errLapsed
	}
	conv.mu.Lock()
	floor, lost := conv.tsFloor, conv.lost
	conv.mu.Unlock()
	if lost {
		return 0, errMoved
	}
	ts := s.clock.next(max(s.now().UnixMicro(), floor+1))
	if ts > deadline.UnixMicro() {
		return 0, errLapsed
	}
	return ts, nil
}

// stillOwner reports errMoved unless this node's lease is still current (after a write, before announcing).
func (s *Service) stillOwner(conv *conversation) error {
	if s.owners == nil {
		return nil
	}
	conv.mu.Lock()
	lost := conv.lost
	conv.mu.Unlock()
	if lost || !time.Now().Before(s.owners.Deadline()) {
		return errMoved
	}
	return nil
}

// drop forgets a conversation whose lease is gone or in doubt: its waiting messages fail with errMoved (their
// senders retry), and the next use of the channel starts afresh (lease, horizon and window from the stores).
func (s *Service) drop(conv *conversation) {
	conv.mu.Lock()
	conv.lost = true
	conv.mu.Unlock()
	s.mu.Lock()
	if s.convs[conv.id] == conv {
		delete(s.convs, conv.id)
	}
	s.mu.Unlock()
	if conv.flushIdle() {
		s.flush(conv) // settles what is still queued
	}
}

// LeaseLost drops every conversation: this node found its own lease gone, so each channel may have a new
// owner already.
func (s *Service) LeaseLost() {
	s.mu.Lock()
	convs := make([]*conversation, 0, len(s.convs))
	for _, c := range s.convs {
		convs = append(convs, c)
	}
	s.mu.Unlock()
	for _, c := range convs {
		s.drop(c)
	}
	if len(convs) > 0 {
		s.log.Warn("lease lost: dropped every active channel", "channels", len(convs))
	}
}

// rebalance hands over the channels whose owner is now another node (one joined): once a conversation has
// nothing queued, its lease is released, so the new owner can take it without a takeover.
func (s *Service) rebalance() {
	if s.owners == nil {
		return
	}
	var moving []*conversation
	s.mu.Lock()
	for id, c := range s.convs {
		if _, local := s.owners.Owner(id); local {
			continue
		}
		c.mu.Lock()
		idle := len(c.pending) == 0 && !c.flushing
		if idle {
			c.lost = true
			delete(s.convs, id)
			moving = append(moving, c)
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
	s.release(moving)
}

// release gives up the leases of conversations that were removed (idle, handed over, or at shutdown).
func (s *Service) release(convs []*conversation) {
	if s.owners == nil {
		return
	}
	for _, c := range convs {
		c.mu.Lock()
		lease := c.lease
		c.mu.Unlock()
		if lease == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.owners.Release(ctx, c.id, *lease); err != nil {
			s.log.WarnContext(ctx, "channel lease not released; the next owner will take it over", "channel", c.id, "err", err)
		}
		cancel()
	}
}

// readable returns the conversation whose window may serve reads of a channel, or nil: on several nodes, only
// the owner's window is current, so other nodes (and an owner that has not written yet) read Cassandra.
func (s *Service) readable(channelID int64) *conversation {
	if s.owners == nil {
		return s.activeConversation(channelID)
	}
	s.mu.Lock()
	c := s.convs[channelID]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.owned || c.lost {
		return nil
	}
	c.active = s.now()
	return c
}

// Owns reports whether this node orders a channel right now (it holds the lease and has written with it).
func (s *Service) Owns(channelID int64) bool {
	if s.owners == nil {
		return true
	}
	return s.readable(channelID) != nil
}
