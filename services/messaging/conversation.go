package messaging

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/model"
)

// conversation is one active channel held in memory: a window of its newest stored messages (which serves
// the newest history pages) and the queue of accepted messages not yet written to Cassandra.
//
// Messages get their ids in the order they are accepted, are written in that order by at most one flush at
// a time, and are announced only after they are stored, so every client sees a channel in id order and
// nothing is announced that could still be lost.
type conversation struct {
	id int64

	mu       sync.Mutex
	window   []model.Message // stored messages, ascending ids, at most windowSize
	loaded   bool            // window is exactly the newest part of the channel's history
	whole    bool            // ... and holds all of it (the channel has no older messages)
	pending  []*entry        // accepted, not yet stored, ascending ids
	flushing bool            // a flush is running; at most one per channel keeps ids in order
	timer    *time.Timer     // age trigger for the oldest pending message
	stores   uint64          // counts completed flushes, to detect races with history loads
	active   time.Time       // last send or read, for eviction

	// The retry horizon: every (sender, nonce) of the channel accepted or stored recently, so that a retried
	// send returns the earlier message instead of storing a second one.
	waiting map[nonceKey]*entry // accepted, not yet settled
	stored  map[nonceKey]int64  // stored within the horizon → message id
	order   []storedNonce       // the keys of stored, in id order, for expiry
	horizon bool                // stored holds what Cassandra had within the horizon when the channel became active
	lastID  int64               // the newest id given or read: new ids go above it
	sealed  bool                // the "turned on end-to-end encryption" line was accepted: plaintext after it is refused

	// Several nodes: this node's lease on the channel (nil until the first flush takes it), whether the
	// takeover work after acquiring it is done, and whether the lease was lost (the conversation is dropped).
	lease   *model.ChannelLease
	owned   bool
	lost    bool
	tsFloor int64 // write timestamps (µs) stay above it: above anything a previous owner could have stamped
}

type nonceKey struct {
	sender int64
	nonce  string
}

type storedNonce struct {
	key nonceKey
	id  int64
}

// remember records a stored message's nonce (ids arrive in ascending order), then drops what has left the
// horizon: older than sinceID, or beyond the newest max messages.
func (c *conversation) remember(key nonceKey, id, sinceID int64, max int) {
	if c.stored == nil {
		c.stored = map[nonceKey]int64{}
	}
	if cur, ok := c.stored[key]; !ok || id < cur {
		c.stored[key] = id
	}
	// Ids arrive ascending: the horizon is loaded oldest first before the channel's first flush settles, and
	// flushes settle one at a time in id order.
	c.order = append(c.order, storedNonce{key, id})
	c.expire(sinceID, max)
}

// expire forgets stored nonces older than sinceID or beyond the newest max.
func (c *conversation) expire(sinceID int64, max int) {
	drop := 0
	for drop < len(c.order) && (c.order[drop].id < sinceID || len(c.order)-drop > max) {
		if o := c.order[drop]; c.stored[o.key] == o.id {
			delete(c.stored, o.key)
		}
		drop++
	}
	if drop > 0 {
		// Copy once the dropped prefix is large, so the backing array does not grow without bound.
		if drop > len(c.order)/2 {
			c.order = append([]storedNonce(nil), c.order[drop:]...)
		} else {
			c.order = c.order[drop:]
		}
	}
}

// entry is an accepted message and everyone waiting for it to be stored (the sender, and retries that
// reused its nonce).
type entry struct {
	msg     model.Message
	checked bool // the nonce was compared with the channel's retry horizon (accepted after it was loaded)
	waiters []func(model.Message, error)
}

// appendStored adds freshly stored messages to the window, keeping it sorted and bounded.
func (c *conversation) appendStored(msgs []model.Message, windowSize int) {
	c.window = append(c.window, msgs...)
	byID := func(a, b model.Message) int { return cmp.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(c.window, byID) {
		slices.SortFunc(c.window, byID)
	}
	if over := len(c.window) - windowSize; over > 0 {
		c.window = append([]model.Message(nil), c.window[over:]...)
		c.whole = false
	}
}

// windowIndex returns the index of the message with this id in the window, or -1.
func (c *conversation) windowIndex(id int64) int {
	if i, ok := slices.BinarySearchFunc(c.window, id, func(m model.Message, id int64) int { return cmp.Compare(m.ID, id) }); ok {
		return i
	}
	return -1
}

// flushIdle reports whether messages are queued and no flush runs (so one must be started).
func (c *conversation) flushIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0 && !c.flushing
}
