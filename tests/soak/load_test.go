//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/testenv/sioclient"
)

// metrics collects the traffic's figures per interval, and errors by kind.
type metrics struct {
	start time.Time

	mu        sync.Mutex
	lat       []time.Duration // send→deliver of the current interval
	history   []time.Duration // REST history reads, whole run
	sent, dlv int
	errs      int
	intervals []Interval
	byKind    map[string]int
	examples  []string
	syncMsgs  int // messages recovered by messages:sync after reconnects
	reconnect int
}

func (m *metrics) fail(kind, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs++
	m.byKind[kind]++
	if len(m.examples) < 20 {
		m.examples = append(m.examples, fmt.Sprintf("%v %s: %s", time.Since(m.start).Round(time.Second), kind, detail))
	}
}

func (m *metrics) delivered(d time.Duration) {
	m.mu.Lock()
	m.lat = append(m.lat, d)
	m.dlv++
	m.mu.Unlock()
}

// roll closes the current interval.
func (m *metrics) roll(start time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.intervals = append(m.intervals, Interval{Start: start, Sent: m.sent, Deliveries: m.dlv,
		P50: Percentile(m.lat, 50), P99: Percentile(m.lat, 99), Errors: m.errs})
	m.lat, m.sent, m.dlv, m.errs = nil, 0, 0, 0
}

// account is a registered user; group is the community it belongs to.
type account struct {
	ID, Name, Token string
	channels        []string
}

// ledger is what was acknowledged, and what each never-disconnected client received, for the loss check.
type ledger struct {
	mu       sync.Mutex
	acked    map[string][]ackedMsg // channel → messages
	received map[string]map[string]bool
	since    map[string]time.Time // client → connected at
	broken   map[string]bool      // clients that lost their connection once (left out of the check)
}

type ackedMsg struct {
	id string
	at time.Time
}

// wireMsg is the part of a message the soak reads.
type wireMsg struct {
	ID, ChannelID, SenderID, Content string
}

// client is one user's socket, reconnecting when asked to; it records deliveries and the newest id per channel.
type client struct {
	acc    account
	m      *metrics
	lg     *ledger
	url    string
	stable bool // never disconnects on purpose: its deliveries are checked

	mu     sync.Mutex
	c      *sioclient.Client
	newest map[string]string // channel → newest id seen
	recent []wireMsg         // a few received messages, for receipts and reactions
}

func (cl *client) connect(ctx context.Context) error {
	c, err := sioclient.Connect(ctx, cl.url, cl.acc.Token, sioclient.Options{OnEvent: cl.onEvent})
	if err != nil {
		return err
	}
	cl.mu.Lock()
	cl.c = c
	cl.mu.Unlock()
	if cl.stable {
		cl.lg.mu.Lock()
		if _, ok := cl.lg.since[cl.acc.ID]; !ok {
			cl.lg.since[cl.acc.ID] = time.Now()
		}
		cl.lg.mu.Unlock()
	}
	return nil
}

func (cl *client) conn() *sioclient.Client {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.c
}

func (cl *client) onEvent(name string, args []json.RawMessage) {
	if name != "message:new" || len(args) == 0 {
		return
	}
	var msg wireMsg
	if json.Unmarshal(args[0], &msg) != nil {
		return
	}
	if ts, ok := sentAt(msg.Content); ok && msg.SenderID != cl.acc.ID {
		cl.m.delivered(time.Since(ts))
	}
	cl.mu.Lock()
	if idLess(cl.newest[msg.ChannelID], msg.ID) {
		cl.newest[msg.ChannelID] = msg.ID
	}
	cl.recent = append(cl.recent, msg)
	if len(cl.recent) > 20 {
		cl.recent = cl.recent[1:]
	}
	cl.mu.Unlock()
	if cl.stable {
		cl.lg.mu.Lock()
		set := cl.lg.received[cl.acc.ID]
		if set == nil {
			set = map[string]bool{}
			cl.lg.received[cl.acc.ID] = set
		}
		set[msg.ID] = true
		cl.lg.mu.Unlock()
	}
}

// content carries the send time, so any receiver can compute send→deliver.
func content(r *rand.Rand) string {
	return fmt.Sprintf("soak|%d|%s", time.Now().UnixNano(), strings.Repeat("x", r.IntN(200)))
}

func sentAt(content string) (time.Time, bool) {
	parts := strings.SplitN(content, "|", 3)
	if len(parts) < 2 || parts[0] != "soak" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	return time.Unix(0, n), err == nil
}

func idLess(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x < y
}

// ack is the common shape of an event's answer.
type ack struct {
	OK       bool
	Error    struct{ Code, Message string }
	Message  wireMsg
	Messages map[string][]wireMsg
	HasMore  map[string]bool
}

func (cl *client) emit(ctx context.Context, kind, event string, payload any) (ack, bool) {
	c := cl.conn()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := c.EmitAck(ctx, event, payload)
	if err != nil {
		if parent.Err() != nil { // the run ended while this waited
			return ack{}, false
		}
		if ctx.Err() != nil && c.Err() == nil {
			cl.m.fail(kind+" ack timeout", err.Error())
		} else if c.Err() != nil {
			cl.lostConnection(c)
		}
		return ack{}, false
	}
	var a ack
	if err := json.Unmarshal(raw, &a); err != nil || !a.OK {
		cl.m.fail(kind+" refused", string(raw))
		return a, false
	}
	return a, true
}

// lostConnection counts a connection the client did not close, and reconnects.
func (cl *client) lostConnection(c *sioclient.Client) {
	cl.mu.Lock()
	if cl.c != c {
		cl.mu.Unlock()
		return
	}
	cl.mu.Unlock()
	cl.m.fail("connection lost", fmt.Sprint(c.Err()))
	cl.lg.mu.Lock()
	cl.lg.broken[cl.acc.ID] = true
	cl.lg.mu.Unlock()
	if err := cl.connect(context.Background()); err != nil {
		cl.m.fail("reconnect", err.Error())
	}
}

// send is one chat message, sometimes after a typing indicator.
func (cl *client) send(ctx context.Context, r *rand.Rand) {
	ch := cl.acc.channels[r.IntN(len(cl.acc.channels))]
	if r.IntN(3) == 0 {
		_ = cl.conn().Emit("typing:start", map[string]string{"channelId": ch})
	}
	nonce := fmt.Sprintf("%s-%d", cl.acc.Name, r.Int64())
	a, ok := cl.emit(ctx, "send", "message:send", map[string]string{"channelId": ch, "content": content(r), "nonce": nonce})
	if !ok {
		return
	}
	cl.m.mu.Lock()
	cl.m.sent++
	cl.m.mu.Unlock()
	cl.lg.mu.Lock()
	cl.lg.acked[ch] = append(cl.lg.acked[ch], ackedMsg{a.Message.ID, time.Now()})
	cl.lg.mu.Unlock()
}

// extra is the traffic besides chat: receipts, presence, reactions.
func (cl *client) extra(ctx context.Context, r *rand.Rand) {
	cl.mu.Lock()
	var m wireMsg
	if len(cl.recent) > 0 {
		m = cl.recent[r.IntN(len(cl.recent))]
	}
	cl.mu.Unlock()
	switch n := r.IntN(10); {
	case n < 5 && m.ID != "":
		cl.emit(ctx, "receipt", "receipt:read", map[string]string{"channelId": m.ChannelID, "messageId": m.ID})
	case n < 7 && m.ID != "":
		cl.emit(ctx, "delivered", "message:delivered", map[string]string{"channelId": m.ChannelID, "messageId": m.ID})
	case n < 8 && m.ID != "":
		cl.emit(ctx, "reaction", "reaction:add", map[string]string{"channelId": m.ChannelID, "messageId": m.ID, "emoji": "👍"})
	default:
		cl.emit(ctx, "presence", "presence:set", map[string]string{"status": []string{"online", "idle"}[r.IntN(2)]})
	}
}

// churn disconnects, waits, reconnects and catches up with messages:sync; every message it gets back must be newer
// than what it had, in order.
func (cl *client) churn(ctx context.Context, r *rand.Rand, offline time.Duration) {
	cl.conn().Close()
	select {
	case <-ctx.Done():
		return
	case <-time.After(offline):
	}
	if err := cl.connect(ctx); err != nil {
		if ctx.Err() == nil {
			cl.m.fail("reconnect", err.Error())
		}
		return
	}
	cl.mu.Lock()
	since := map[string]string{}
	for _, ch := range cl.acc.channels {
		since[ch] = cl.newest[ch]
	}
	cl.mu.Unlock()
	a, ok := cl.emit(ctx, "sync", "messages:sync", map[string]any{"channels": since})
	if !ok {
		return
	}
	n := 0
	for ch, msgs := range a.Messages {
		prev := since[ch]
		for _, msg := range msgs {
			if !idLess(prev, msg.ID) {
				cl.m.fail("sync order", fmt.Sprintf("channel %s: %s after %s", ch, msg.ID, prev))
			}
			prev = msg.ID
			n++
		}
		cl.mu.Lock()
		if idLess(cl.newest[ch], prev) {
			cl.newest[ch] = prev
		}
		cl.mu.Unlock()
	}
	cl.m.mu.Lock()
	cl.m.syncMsgs += n
	cl.m.reconnect++
	cl.m.mu.Unlock()
}

// readHistory reads a channel's newest page and the page before it over REST.
func readHistory(base string, acc account, ch string, m *metrics) {
	start := time.Now()
	var page struct{ Messages []wireMsg }
	if _, err := do(base, http.MethodGet, "/api/channels/"+ch+"/messages?limit=50", acc.Token, nil, &page); err != nil {
		m.fail("history", err.Error())
		return
	}
	if n := len(page.Messages); n > 0 {
		if _, err := do(base, http.MethodGet, "/api/channels/"+ch+"/messages?limit=50&before="+page.Messages[n-1].ID, acc.Token, nil, nil); err != nil {
			m.fail("history", err.Error())
			return
		}
	}
	m.mu.Lock()
	m.history = append(m.history, time.Since(start))
	m.mu.Unlock()
}
