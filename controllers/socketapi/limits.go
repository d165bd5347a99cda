package socketapi

import (
	"time"

	"github.com/parleychat/parley/internal/ratelimit"
)

// Limit is a per-user token bucket for one socket event: Burst at once, then one every Every.
type Limit struct {
	Every time.Duration
	Burst int
}

// DefaultEventLimits bound what one account can make the server do through its sockets (on this node; with
// several nodes each applies its own). message:send and reactions are limited by their services (shared by
// all nodes); typing is throttled by its service too, the bucket here only caps the event's own cost.
// The figures leave room for a person on several devices: a burst of edits after a typo storm, a client
// catching up after a long sleep, a reader scrolling through twenty channels.
var DefaultEventLimits = map[string]Limit{
	"message:edit":      {Every: 500 * time.Millisecond, Burst: 10},
	"message:delete":    {Every: 200 * time.Millisecond, Burst: 20}, // moderators clean up in bursts
	"messages:sync":     {Every: 2 * time.Second, Burst: 5},
	"receipt:read":      {Every: 100 * time.Millisecond, Burst: 30},
	"message:delivered": {Every: 50 * time.Millisecond, Burst: 60},
	"presence:set":      {Every: time.Second, Burst: 5},
	"typing:start":      {Every: 200 * time.Millisecond, Burst: 10},
	"typing:stop":       {Every: 200 * time.Millisecond, Burst: 10},
}

// DefaultMaxSocketsPerUser bounds one account's open sockets on one node. Each socket may hold up to the write
// queue limit (1 MiB) of unsent events, so this caps what one account can pin in memory: 20 × 1 MiB.
const DefaultMaxSocketsPerUser = 20

func newEventLimiters(limits map[string]Limit) map[string]*ratelimit.Keyed {
	out := make(map[string]*ratelimit.Keyed, len(limits))
	for event, l := range limits {
		if l.Every > 0 && l.Burst > 0 {
			out[event] = ratelimit.New(l.Every, l.Burst)
		}
	}
	return out
}
