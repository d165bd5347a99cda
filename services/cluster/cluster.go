// Package cluster makes several Parley nodes one service: each node holds a lease in Redis (so the others
// know it is alive and where to reach it), channels are spread over the live nodes by rendezvous hashing,
// a node orders a channel's messages only while it holds the channel's lease (with an epoch that changes on
// every takeover), and a bus carries broadcasts and cache invalidations to every node.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/model"
)

// Registry keeps the node leases (Redis).
type Registry interface {
	Register(ctx context.Context, id int64, value string, ttl time.Duration) (bool, error)
	Renew(ctx context.Context, id int64, value string, ttl time.Duration) (bool, error)
	Deregister(ctx context.Context, id int64, value string) error
	Live(ctx context.Context) (map[int64]string, error)
}

// LeaseStore hands out channel leases (Redis).
type LeaseStore interface {
	Acquire(ctx context.Context, channelID, node int64, incarnation string) (model.ChannelLease, error)
	Release(ctx context.Context, channelID int64, token string) error
}

// Transport carries bus messages between nodes, in order per sender (Redis pub/sub).
type Transport interface {
	Publish(ctx context.Context, msgs [][]byte) error
	Subscribe(ctx context.Context, ready func(), handle func([]byte)) error
}

// Config tunes a node.
type Config struct {
	NodeID    int64
	Advertise string        // where the other nodes reach this node's internal API
	LeaseTTL  time.Duration // a node silent this long is dead (default 5 s)
	Refresh   time.Duration // how often the live-node list is re-read (default 500 ms)
	QueueMax  int           // bus messages waiting to be sent before new ones are dropped (default 100,000)
}

// Peer is a live node.
type Peer struct {
	ID   int64
	Addr string
}

// Node is this process's membership in the cluster.
type Node struct {
	cfg    Config
	reg    Registry
	leases LeaseStore
	tr     Transport
	log    *slog.Logger

	mu          sync.Mutex
	incarnation string
	deadline    time.Time // this node's lease is surely held until then (monotonic clock; wall clock for fencing)
	onLeft      []func(nodeID int64)
	onLost      []func()
	handlers    map[byte]func(payload []byte)

	peers atomic.Pointer[[]Peer] // live nodes, sorted by id

	outMu   sync.Mutex
	out     []outMsg
	outWake chan struct{}
	dropped int

	ready  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type outMsg struct {
	b    []byte
	done chan error // PublishWait
}

// leaseSafety is subtracted from the lease TTL when this node decides how long its lease surely lasts: the
// renewal's round trip and clock drift over a few seconds stay well under it.
const leaseSafety = time.Second

// New prepares a node; Start joins the cluster.
func New(cfg Config, reg Registry, leases LeaseStore, tr Transport, log *slog.Logger) *Node {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 500 * time.Millisecond
	}
	if cfg.QueueMax <= 0 {
		cfg.QueueMax = 100_000
	}
	n := &Node{cfg: cfg, reg: reg, leases: leases, tr: tr, log: log, handlers: map[byte]func([]byte){},
		outWake: make(chan struct{}, 1), ready: make(chan struct{})}
	n.peers.Store(&[]Peer{})
	return n
}

// ID is this node's id.
func (n *Node) ID() int64 { return n.cfg.NodeID }

// OnNodeLeft registers a hook called when another node's lease ends (it died or stopped). Before Start.
func (n *Node) OnNodeLeft(fn func(nodeID int64)) { n.onLeft = append(n.onLeft, fn) }

// OnLeaseLost registers a hook called when this node finds its own lease gone (it was frozen or cut off
// from Redis for longer than the TTL): every channel lease it held may have a new owner. Before Start.
func (n *Node) OnLeaseLost(fn func()) { n.onLost = append(n.onLost, fn) }

// Handle registers the receiver of one topic of bus messages. Before Start.
func (n *Node) Handle(topic byte, fn func(payload []byte)) { n.handlers[topic] = fn }

func newIncarnation() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (n *Node) leaseValue() string { return n.incarnation + "|" + n.cfg.Advertise }

// Start registers this node (waiting out the lease of a previous run with the same id, if any), reads the
// live nodes, and starts renewing, watching and the bus. It returns once the bus subscription is active.
func (n *Node) Start(ctx context.Context) error {
	n.incarnation = newIncarnation()
	wait := time.Now().Add(n.cfg.LeaseTTL + time.Second)
	for {
		sent := time.Now()
		ok, err := n.reg.Register(ctx, n.cfg.NodeID, n.leaseValue(), n.cfg.LeaseTTL)
		if err != nil {
			return err
		}
		if ok {
			n.setDeadline(sent)
			break
		}
		if time.Now().After(wait) {
			return fmt.Errorf("cluster: node id %d is in use by another process (PARLEY_NODE_ID must be unique per node)", n.cfg.NodeID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err := n.refresh(ctx); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(4)
	go n.renewLoop(bg)
	go n.watchLoop(bg)
	go n.publishLoop(bg)
	go n.subscribeLoop(bg)
	select {
	case <-n.ready:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("cluster: the bus subscription did not start within 5 s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends what the bus still holds (briefly), ends this node's lease so the others take over at once,
// and stops the background work.
func (n *Node) Stop(ctx context.Context) {
	if n.cancel == nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		n.outMu.Lock()
		empty := len(n.out) == 0
		n.outMu.Unlock()
		if empty {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.cancel()
	n.wg.Wait()
	n.mu.Lock()
	value := n.leaseValue()
	n.deadline = time.Time{}
	n.mu.Unlock()
	if err := n.reg.Deregister(ctx, n.cfg.NodeID, value); err != nil {
		n.log.WarnContext(ctx, "node lease not removed; it expires by itself", "err", err)
	}
}

func (n *Node) setDeadline(sent time.Time) {
	n.mu.Lock()
	n.deadline = sent.Add(n.cfg.LeaseTTL - leaseSafety)
	n.mu.Unlock()
}

// Deadline is the time until which this node surely holds its lease (and so its channel leases); the zero
// time when it does not. The value carries the monotonic clock (compare it with time.Now) and the wall clock
// (fencing timestamps are capped by it).
func (n *Node) Deadline() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.deadline
}

func (n *Node) renewLoop(ctx context.Context) {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.renew(ctx)
	}
}

func (n *Node) renew(ctx context.Context) {
	n.mu.Lock()
	value := n.leaseValue()
	n.mu.Unlock()
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, n.cfg.LeaseTTL/4)
	ok, err := n.reg.Renew(rctx, n.cfg.NodeID, value, n.cfg.LeaseTTL)
	cancel()
	switch {
	case err != nil:
		// The lease runs out by itself if Redis stays away; Deadline tells the channel owners when.
		n.log.WarnContext(ctx, "node lease not renewed", "err", err)
	case ok:
		n.setDeadline(sent)
	default:
		n.log.ErrorContext(ctx, "this node's lease expired (frozen or cut off from Redis): its channels may have new owners; rejoining")
		n.mu.Lock()
		n.deadline = time.Time{}
		n.incarnation = newIncarnation()
		value = n.leaseValue()
		n.mu.Unlock()
		for _, fn := range n.onLost {
			fn()
		}
		sent = time.Now()
		if ok, err := n.reg.Register(ctx, n.cfg.NodeID, value, n.cfg.LeaseTTL); err != nil || !ok {
			n.log.WarnContext(ctx, "rejoining failed; will retry", "err", err)
			return
		}
		n.setDeadline(sent)
	}
}

func (n *Node) watchLoop(ctx context.Context) {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := n.refresh(rctx); err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "live nodes not read", "err", err)
		}
		cancel()
	}
}

// refresh re-reads the live nodes and tells the hooks about the ones that left.
func (n *Node) refresh(ctx context.Context) error {
	live, err := n.reg.Live(ctx)
	if err != nil {
		return err
	}
	peers := make([]Peer, 0, len(live))
	for id, v := range live {
		_, addr, _ := strings.Cut(v, "|")
		peers = append(peers, Peer{ID: id, Addr: addr})
	}
	slices.SortFunc(peers, func(a, b Peer) int { return int(a.ID - b.ID) })
	old := *n.peers.Swap(&peers)
	for _, p := range old {
		if _, ok := live[p.ID]; !ok && p.ID != n.cfg.NodeID {
			n.log.InfoContext(ctx, "node left the cluster", "node", p.ID)
			for _, fn := range n.onLeft {
				fn(p.ID)
			}
		}
	}
	return nil
}

// Peers returns the live nodes, sorted by id.
func (n *Node) Peers() []Peer { return *n.peers.Load() }

// Owner returns the node that should own a channel, and whether that is this node.
func (n *Node) Owner(channelID int64) (int64, bool) {
	p := n.owner(channelID)
	return p.ID, p.ID == n.cfg.NodeID
}

// Addr returns the internal address of a live node.
func (n *Node) Addr(nodeID int64) (string, bool) {
	for _, p := range *n.peers.Load() {
		if p.ID == nodeID {
			return p.Addr, true
		}
	}
	return "", false
}

// owner is the live node with the highest rendezvous score for the channel; with no live node known, this one.
func (n *Node) owner(channelID int64) Peer {
	peers := *n.peers.Load()
	best, bestScore := Peer{ID: n.cfg.NodeID, Addr: n.cfg.Advertise}, uint64(0)
	for i, p := range peers {
		if s := score(channelID, p.ID); i == 0 || s > bestScore {
			best, bestScore = p, s
		}
	}
	return best
}

// score mixes a channel and a node id (splitmix64): rendezvous hashing moves only the channels of a node
// that joins or leaves.
func score(channelID, nodeID int64) uint64 {
	x := uint64(channelID)*0x9e3779b97f4a7c15 ^ uint64(nodeID)*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Acquire takes this node's lease on a channel (see LeaseStore).
func (n *Node) Acquire(ctx context.Context, channelID int64) (model.ChannelLease, error) {
	n.mu.Lock()
	inc, valid := n.incarnation, time.Now().Before(n.deadline)
	n.mu.Unlock()
	if !valid {
		return model.ChannelLease{}, errors.New("cluster: this node's lease is not current")
	}
	return n.leases.Acquire(ctx, channelID, n.cfg.NodeID, inc)
}

// Release gives a channel lease up.
func (n *Node) Release(ctx context.Context, channelID int64, l model.ChannelLease) error {
	return n.leases.Release(ctx, channelID, l.Token)
}

// Topic is one kind of bus message; see Node.Topic.
type Topic struct {
	n     *Node
	topic byte
}

// Topic returns the sender of one kind of bus message.
func (n *Node) Topic(t byte) *Topic { return &Topic{n: n, topic: t} }

func (t *Topic) frame(payload []byte) []byte {
	b := make([]byte, 0, 9+len(payload))
	b = append(b, t.topic)
	b = binary.BigEndian.AppendUint64(b, uint64(t.n.cfg.NodeID))
	return append(b, payload...)
}

// Publish queues a message for every other node; it never blocks. Messages of one node arrive in the order
// they were queued; when the queue is full (the bus is down), new messages are dropped and counted.
func (t *Topic) Publish(payload []byte) { t.n.enqueue(outMsg{b: t.frame(payload)}) }

// PublishWait queues a message and waits until it was handed to the bus (or ctx ends).
func (t *Topic) PublishWait(ctx context.Context, payload []byte) error {
	done := make(chan error, 1)
	if !t.n.enqueue(outMsg{b: t.frame(payload), done: done}) {
		return errors.New("cluster: bus queue full")
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) enqueue(m outMsg) bool {
	n.outMu.Lock()
	if len(n.out) >= n.cfg.QueueMax {
		n.dropped++
		if n.dropped == 1 || n.dropped%10_000 == 0 {
			n.log.Error("bus queue full: messages to other nodes dropped", "dropped", n.dropped)
		}
		n.outMu.Unlock()
		return false
	}
	n.out = append(n.out, m)
	n.outMu.Unlock()
	select {
	case n.outWake <- struct{}{}:
	default:
	}
	return true
}

// publishLoop sends queued messages in order, many per round trip, retrying while the bus is down.
func (n *Node) publishLoop(ctx context.Context) {
	defer n.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		n.outMu.Lock()
		batch := n.out[:min(len(n.out), 512)]
		n.outMu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-n.outWake:
			}
			continue
		}
		msgs := make([][]byte, len(batch))
		for i, m := range batch {
			msgs[i] = m.b
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.tr.Publish(pctx, msgs)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.WarnContext(ctx, "bus publish failed; retrying", "messages", len(msgs), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		n.outMu.Lock()
		n.out = n.out[len(batch):]
		if len(n.out) == 0 {
			n.out = nil // let the backing array go
		}
		n.outMu.Unlock()
		for _, m := range batch {
			if m.done != nil {
				m.done <- nil
			}
		}
	}
}

func (n *Node) subscribeLoop(ctx context.Context) {
	defer n.wg.Done()
	var once sync.Once
	for ctx.Err() == nil {
		err := n.tr.Subscribe(ctx, func() { once.Do(func() { close(n.ready) }) }, n.receive)
		if err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "bus subscription failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (n *Node) receive(b []byte) {
	if len(b) < 9 {
		return
	}
	if int64(binary.BigEndian.Uint64(b[1:9])) == n.cfg.NodeID {
		return // our own message, already applied locally
	}
	if h := n.handlers[b[0]]; h != nil {
		h(b[9:])
	}
}
