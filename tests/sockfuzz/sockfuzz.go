// Package sockfuzz is the socket-level fuzzer (issue #22): against a running server it opens sessions with
// valid accounts, over WebSocket and long-polling (and upgrades between them), and sends hostile frames:
// malformed Engine.IO and Socket.IO packets, wrong types and out-of-range ids in event payloads, huge and deeply
// nested JSON, unknown events, binary attachments that do not match their packet, acks nobody asked for, broken
// WebSocket framing, bad long-polling bodies and requests, interleaved upgrades. It records every HTTP status it
// gets; the caller then checks the server (no panic in its log, /readyz, a normal client still chats).
package sockfuzz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/testenv/sioclient"
)

// Config of a run.
type Config struct {
	URL        string   // the server's base URL
	Tokens     []string // access tokens of the fuzzing accounts (one worker per token)
	Targets    Targets
	Frames     int // stop after this many hostile frames
	Seed       uint64
	MaxPayload int // the server's limit on one message (64 KiB by default)
	Log        *slog.Logger
}

// Report is what a run did and saw.
type Report struct {
	Frames      int64            // hostile frames sent (WebSocket messages and raw frames, long-polling packets, bad requests)
	ByKind      map[string]int64 // frames per kind
	Sessions    int64            // sessions opened
	Status      map[int]int64    // HTTP statuses received
	Closed      int64            // connections the server closed after a frame meant to be harmless
	NoAck       int64            // barrier events not acknowledged in time (the server did not take a batch)
	DialErrors  int64
	Elapsed     time.Duration
	ServerError []string         // 5xx answers: method, path, status
	CloseAfter  []string         // a sample of the frames that preceded unexpected closes
	NoAckAfter  []string         // a sample of the frames that preceded unacknowledged barriers
	Refused     map[string]int64 // CONNECTs refused (connect_error), by answer
}

// Summary is the report in one line.
func (r Report) Summary() string {
	kinds := make([]string, 0, len(r.ByKind))
	for k, n := range r.ByKind {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(kinds)
	st := make([]string, 0, len(r.Status))
	for s, n := range r.Status {
		st = append(st, fmt.Sprintf("%d=%d", s, n))
	}
	slices.Sort(st)
	return fmt.Sprintf("%d hostile frames in %v (%.0f/s) over %d sessions; HTTP statuses %s; unexpected closes %d; unacknowledged barriers %d; dial errors %d; connects refused %v; by kind: %s",
		r.Frames, r.Elapsed.Round(time.Millisecond), float64(r.Frames)/r.Elapsed.Seconds(), r.Sessions, strings.Join(st, " "),
		r.Closed, r.NoAck, r.DialErrors, r.Refused, strings.Join(kinds, " "))
}

type run struct {
	cfg    Config
	frames atomic.Int64
	hc     *http.Client

	mu     sync.Mutex
	rep    Report
	closed atomic.Int64
	noAck  atomic.Int64
	dialEr atomic.Int64
	sess   atomic.Int64
}

// Run fuzzes until cfg.Frames hostile frames were sent or ctx ends.
func Run(ctx context.Context, cfg Config) Report {
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 64 * 1024
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &run{cfg: cfg, rep: Report{ByKind: map[string]int64{}, Status: map[int]int64{}, Refused: map[string]int64{}},
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	start := time.Now()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	go func() {
		for range progress.C {
			cfg.Log.Info("socket fuzzer", "frames", r.frames.Load(), "sessions", r.sess.Load(), "elapsed", time.Since(start).Round(time.Second))
		}
	}()
	var wg sync.WaitGroup
	for i, tok := range cfg.Tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := &gen{r: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), tg: cfg.Targets, maxPayload: cfg.MaxPayload}
			for ctx.Err() == nil && r.frames.Load() < int64(cfg.Frames) {
				switch n := g.r.IntN(100); {
				case n < 55:
					r.webSocketSession(ctx, g, tok)
				case n < 85:
					r.pollingSession(ctx, g, tok, false)
				case n < 93:
					r.pollingSession(ctx, g, tok, true)
				default:
					r.badRequests(ctx, g)
				}
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Frames, r.rep.Elapsed = r.frames.Load(), time.Since(start)
	r.rep.Closed, r.rep.NoAck, r.rep.DialErrors, r.rep.Sessions = r.closed.Load(), r.noAck.Load(), r.dialEr.Load(), r.sess.Load()
	return r.rep
}

func (r *run) count(kind string, n int) {
	r.frames.Add(int64(n))
	r.mu.Lock()
	r.rep.ByKind[kind] += int64(n)
	r.mu.Unlock()
}

func (r *run) status(method, path string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Status[code]++
	if code >= 500 {
		r.rep.ServerError = append(r.rep.ServerError, fmt.Sprintf("%s %s: %d", method, path, code))
	}
}

// dialStatus records the HTTP status of a refused WebSocket handshake.
func (r *run) dialStatus(path string, err error) {
	var se ws.StatusError
	if errors.As(err, &se) {
		r.status("GET(ws)", path, int(se))
		return
	}
	r.dialEr.Add(1)
	r.cfg.Log.Debug("websocket dial failed", "err", err)
}

// batch is a run of benign frames, sometimes ended by a fatal one (a benign-looking event over the payload limit
// is fatal too, and ends it early).
func (r *run) batch(g *gen, allowWS bool) (frames []frame, fatal bool) {
	add := func(group []frame) {
		for _, f := range group {
			if f.wsOnly && !allowWS {
				continue
			}
			frames = append(frames, f)
			fatal = fatal || f.fatal
		}
	}
	for range 5 + g.r.IntN(40) {
		if add(g.benign()); fatal {
			return frames, true
		}
	}
	if g.r.IntN(3) == 0 {
		add(g.fatal(r.cfg.MaxPayload))
	}
	return frames, fatal
}

// barrier emits an event with an ack and waits for it: once it comes, the server has read every frame before.
func barrier(ctx context.Context, c *sioclient.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := c.EmitRawAck(ctx, []byte(`["presence:set",{"status":"online"}]`))
	return err
}

func (r *run) webSocketSession(ctx context.Context, g *gen, token string) {
	c, err := sioclient.Connect(ctx, r.cfg.URL, token, sioclient.Options{})
	if ce := (*sioclient.ConnectError)(nil); errors.As(err, &ce) {
		r.refusal(ce.Body)
		return
	}
	if err != nil {
		r.dialStatus("/socket.io/ (websocket)", err)
		time.Sleep(50 * time.Millisecond)
		return
	}
	r.sess.Add(1)
	defer c.Close()
	r.sendWS(ctx, g, c)
}

// sendWS sends batches on a connected WebSocket until a fatal frame or a budget of batches.
func (r *run) sendWS(ctx context.Context, g *gen, c *sioclient.Client) {
	for range 1 + g.r.IntN(6) {
		frames, fatal := r.batch(g, true)
		for _, f := range frames {
			var err error
			switch {
			case f.raw != nil:
				err = c.WriteRaw(f.raw)
			case f.bin != nil:
				err = c.WriteBinary(f.bin)
			default:
				err = c.WriteText(f.text)
			}
			if err != nil {
				if !f.fatal {
					r.closed.Add(1)
					r.sampleClose(fmt.Sprintf("write failed (%v) at %s", err, lastKinds([]frame{f})))
				}
				return
			}
			r.count(f.kind, 1)
		}
		if fatal {
			select { // give the server a moment to close; it may also ignore the frame
			case <-c.Done():
			case <-time.After(200 * time.Millisecond):
			}
			return
		}
		if err := barrier(ctx, c); err != nil {
			if c.Err() != nil {
				r.closed.Add(1)
				r.sampleClose(fmt.Sprintf("%v after %s", c.Err(), lastKinds(frames)))
			} else {
				r.noAck.Add(1)
				r.sampleNoAck(fmt.Sprintf("websocket: %v after %s", err, lastKinds(frames)))
			}
			return
		}
	}
}

func (r *run) sampleClose(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rep.CloseAfter) < 20 {
		r.rep.CloseAfter = append(r.rep.CloseAfter, s)
	}
}

func (r *run) refusal(body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Refused[body]++
}

func (r *run) sampleNoAck(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rep.NoAckAfter) < 20 {
		r.rep.NoAckAfter = append(r.rep.NoAckAfter, s)
	}
}

func lastKinds(fs []frame) string {
	var ks []string
	for _, f := range fs[max(0, len(fs)-3):] {
		ks = append(ks, f.kind+":"+string(f.text[:min(len(f.text), 60)]))
	}
	return strings.Join(ks, " | ")
}
