package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/internal/model"
)

// Leases hands out channel leases: key <prefix>:lease:<channel> holds "<node>|<incarnation>|<epoch>|<ms>" and
// <prefix>:epoch:<channel> counts acquisitions. A lease has no TTL of its own: it is valid while its holder's
// node lease (same incarnation) is, so a node renews one key however many channels it owns, and a lease
// taken from a dead holder is always a takeover with a new epoch.
type Leases struct {
	c      *goredis.Client
	prefix string
}

func NewLeases(c *goredis.Client, prefix string) *Leases { return &Leases{c: c, prefix: prefix} }

// acquireScript returns {status, epoch or holder, previous value, acquired ms}: status 0 = held by a live
// node (the second field is its id), 1 = acquired (nobody held it), 2 = already ours, 3 = taken over from a
// holder whose node lease is gone.
var acquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local prev = ''
if cur then
  local node, inc, ep, acq = string.match(cur, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if node == ARGV[1] and inc == ARGV[2] then return {2, tonumber(ep), '', tonumber(acq)} end
  local alive = redis.call('GET', ARGV[3] .. node)
  if alive and string.sub(alive, 1, string.len(inc) + 1) == inc .. '|' then return {0, tonumber(node), '', 0} end
  prev = cur
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ep = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ep .. '|' .. now)
if prev ~= '' then return {3, ep, prev, now} end
return {1, ep, '', now}`)

// Acquire takes (or confirms) node's lease on a channel. A lease held by a live node yields an error
// wrapping model.ErrLeaseHeld.
func (l *Leases) Acquire(ctx context.Context, channelID, node int64, incarnation string) (model.ChannelLease, error) {
	ch := strconv.FormatInt(channelID, 10)
	res, err := acquireScript.Run(ctx, l.c, []string{l.prefix + ":lease:" + ch, l.prefix + ":epoch:" + ch},
		node, incarnation, l.prefix+":node:").Slice()
	if err != nil {
		return model.ChannelLease{}, fmt.Errorf("redis: acquiring the lease of channel %d: %w", channelID, err)
	}
	if len(res) != 4 {
		return model.ChannelLease{}, fmt.Errorf("redis: unexpected lease answer %v", res)
	}
	status, _ := res[0].(int64)
	second, _ := res[1].(int64)
	prev, _ := res[2].(string)
	ms, _ := res[3].(int64)
	if status == 0 {
		return model.ChannelLease{}, fmt.Errorf("%w (by node %d)", model.ErrLeaseHeld, second)
	}
	lease := model.ChannelLease{
		Epoch:      second,
		Token:      fmt.Sprintf("%d|%s|%d|%d", node, incarnation, second, ms),
		AcquiredAt: time.UnixMilli(ms),
	}
	if status == 3 {
		lease.TakenOver = true
		if parts := strings.Split(prev, "|"); len(parts) == 4 {
			if pms, err := strconv.ParseInt(parts[3], 10, 64); err == nil {
				lease.PreviousAcquiredAt = time.UnixMilli(pms)
			}
		}
	}
	return lease, nil
}

// Release gives a lease up (its holder stored and announced everything first), if it is still that lease.
func (l *Leases) Release(ctx context.Context, channelID int64, token string) error {
	key := l.prefix + ":lease:" + strconv.FormatInt(channelID, 10)
	if err := dropScript.Run(ctx, l.c, []string{key}, token).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis: releasing the lease of channel %d: %w", channelID, err)
	}
	return nil
}
