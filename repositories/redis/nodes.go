package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Nodes keeps one lease per live node: key <prefix>:node:<id> holding "<incarnation>|<address>" with a TTL
// the node renews, and the set <prefix>:nodes of every id that ever registered (to list them without SCAN).
type Nodes struct {
	c      *goredis.Client
	prefix string
}

func NewNodes(c *goredis.Client, prefix string) *Nodes { return &Nodes{c: c, prefix: prefix} }

func (n *Nodes) key(id int64) string { return nodeKey(n.prefix, id) }

func nodeKey(prefix string, id int64) string { return prefix + ":node:" + strconv.FormatInt(id, 10) }

// Register takes the lease of node id if nobody holds it. It reports false when another process holds it
// (a second process with the same node id, or the previous run of this one, whose lease has not expired yet).
func (n *Nodes) Register(ctx context.Context, id int64, value string, ttl time.Duration) (bool, error) {
	ok, err := n.c.SetNX(ctx, n.key(id), value, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis: registering node %d: %w", id, err)
	}
	if ok {
		if err := n.c.SAdd(ctx, n.prefix+":nodes", id).Err(); err != nil {
			return false, fmt.Errorf("redis: listing node %d: %w", id, err)
		}
	}
	return ok, nil
}

// renewScript extends a node lease only if it still holds this incarnation: a node whose lease expired (it
// was frozen, or cut off from Redis) must not resurrect it, because its channels may have new owners.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// Renew extends the lease; false means it was lost.
func (n *Nodes) Renew(ctx context.Context, id int64, value string, ttl time.Duration) (bool, error) {
	r, err := renewScript.Run(ctx, n.c, []string{n.key(id)}, value, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: renewing node %d: %w", id, err)
	}
	return r == 1, nil
}

var dropScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Deregister ends the lease at once (graceful shutdown), if it is still this incarnation's.
func (n *Nodes) Deregister(ctx context.Context, id int64, value string) error {
	if err := dropScript.Run(ctx, n.c, []string{n.key(id)}, value).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis: deregistering node %d: %w", id, err)
	}
	return nil
}

// Live returns the value of every live node's lease by id.
func (n *Nodes) Live(ctx context.Context) (map[int64]string, error) {
	ids, err := n.c.SMembers(ctx, n.prefix+":nodes").Result()
	if err != nil {
		return nil, fmt.Errorf("redis: listing nodes: %w", err)
	}
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	nums := make([]int64, len(ids))
	for i, s := range ids {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		nums[i], keys[i] = id, n.key(id)
	}
	vals, err := n.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: reading node leases: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok && keys[i] != "" {
			out[nums[i]] = s
		}
	}
	return out, nil
}
