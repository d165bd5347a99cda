package messaging

import (
	"sort"
	"sync"
	"sync/atomic"
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
}

// entry is an accepted message and everyone waiting for it to be stored (the sender, and retries that
// reused its nonce).
type entry struct {
	msg     model.Message
	checked bool // the nonce is known not to be in Cassandra yet
	waiters []func(model.Message, error)

	settled atomic.Bool   // written (or given up); set after result/err, which never change afterwards
	result  model.Message // the stored message (for a duplicate: the earlier one)
	err     error
}

// appendStored adds freshly stored messages to the window, keeping it sorted and bounded.
func (c *conversation) appendStored(msgs []model.Message, windowSize int) {
	c.window = append(c.window, msgs...)
	if !sort.SliceIsSorted(c.window, func(i, j int) bool { return c.window[i].ID < c.window[j].ID }) {
		sort.Slice(c.window, func(i, j int) bool { return c.window[i].ID < c.window[j].ID })
	}
	if over := len(c.window) - windowSize; over > 0 {
		c.window = append([]model.Message(nil), c.window[over:]...)
		c.whole = false
	}
}

// windowIndex returns the index of the message with this id in the window, or -1.
func (c *conversation) windowIndex(id int64) int {
	i := sort.Search(len(c.window), func(i int) bool { return c.window[i].ID >= id })
	if i < len(c.window) && c.window[i].ID == id {
		return i
	}
	return -1
}
