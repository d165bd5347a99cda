package sockfuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/testenv/sioclient"
)

// poller is one long-polling session: a GET loop that keeps reading (and spots the acks of barriers) while
// POSTs carry the hostile packets.
type poller struct {
	r   *run
	sid string

	mu        sync.Mutex
	acks      map[string]chan struct{} // "3<id>" → closed when seen
	ended     chan struct{}
	connected chan struct{} // the CONNECT answer came ("40"; "44" is a refusal: refused is set)
	refused   string
}

func (r *run) pollURL(extra string) string {
	return strings.TrimRight(r.cfg.URL, "/") + "/socket.io/?EIO=4&transport=polling" + extra
}

// do sends one request and records its status; err is a transport failure (no status).
func (r *run) do(ctx context.Context, method, url string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	path := url
	if i := strings.Index(path, "/socket.io/"); i >= 0 {
		path = path[i:]
	}
	r.status(method, path, res.StatusCode)
	return res.StatusCode, b, nil
}

// handshake opens a long-polling session and returns its sid.
func (r *run) handshake(ctx context.Context) (string, error) {
	code, body, err := r.do(ctx, http.MethodGet, r.pollURL(""), nil, nil)
	if err != nil || code != http.StatusOK || len(body) < 2 || body[0] != '0' {
		return "", fmt.Errorf("polling handshake: %d %q %v", code, body, err)
	}
	var open struct{ SID string }
	if err := json.Unmarshal(body[1:], &open); err != nil || open.SID == "" {
		return "", fmt.Errorf("polling open packet %q", body)
	}
	return open.SID, nil
}

func (r *run) pollingSession(ctx context.Context, g *gen, token string, upgrade bool) {
	sid, err := r.handshake(ctx)
	if err != nil {
		r.dialEr.Add(1)
		return
	}
	r.sess.Add(1)
	p := &poller{r: r, sid: sid, acks: map[string]chan struct{}{}, ended: make(chan struct{}), connected: make(chan struct{})}
	auth, _ := json.Marshal(map[string]string{"token": token})
	if code, _, err := r.do(ctx, http.MethodPost, r.pollURL("&sid="+sid), append([]byte("40"), auth...), nil); err != nil || code != http.StatusOK {
		return
	}
	loopCtx, stop := context.WithCancel(ctx)
	go p.getLoop(loopCtx)
	// Nothing of this session outlives Run, and the session ends now rather than at its ping timeout (a GET
	// cancelled between two polls leaves the server nothing to notice): close packet, unless it already ended.
	defer func() {
		select {
		case <-p.ended:
		default:
			p.endRequest(context.Background())
		}
		stop()
		<-p.ended
	}()
	// Events before the CONNECT answer would be dropped (no socket yet): wait for it, as clients do.
	select {
	case <-p.connected:
	case <-p.ended:
		return
	case <-time.After(20 * time.Second):
		p.r.noAck.Add(1)
		p.r.sampleNoAck("polling: no CONNECT answer in 20 s")
		return
	}
	if p.refused != "" {
		p.r.refusal(p.refused)
		return
	}
	if upgrade {
		r.upgrade(ctx, g, p)
		return
	}
	for range 1 + g.r.IntN(5) {
		frames, fatal := r.batch(g, false)
		if !p.post(ctx, frames, fatal) || fatal {
			return
		}
		if !p.barrier(ctx) {
			p.r.sampleNoAck("polling, after " + lastKinds(frames))
			return
		}
	}
	if g.r.IntN(4) == 0 {
		p.fatalRequest(ctx, g)
		return
	}
	p.endRequest(ctx)
}

// post sends frames in bodies under the payload limit; false when the session ended.
func (p *poller) post(ctx context.Context, frames []frame, fatal bool) bool {
	limit := p.r.cfg.MaxPayload - 1024
	var body []byte
	var kinds []string
	flush := func(last bool) bool {
		if len(kinds) == 0 {
			return true
		}
		code, _, err := p.r.do(ctx, http.MethodPost, p.r.pollURL("&sid="+p.sid), body, nil)
		if err != nil {
			return false
		}
		if code == http.StatusOK || (last && fatal) {
			for _, k := range kinds {
				p.r.count(k, 1)
			}
		}
		if code != http.StatusOK {
			if !(last && fatal) {
				p.r.closed.Add(1)
				p.r.sampleClose(fmt.Sprintf("POST answered %d for %d packets: %q", code, len(kinds), body[:min(len(body), 120)]))
			}
			return false
		}
		body, kinds = body[:0], kinds[:0]
		return true
	}
	for i, f := range frames {
		pk := pollPacket(f)
		if len(pk) > limit && !f.fatal {
			continue
		}
		if len(body)+len(pk)+1 > limit && !flush(false) {
			return false
		}
		if len(body) > 0 {
			body = append(body, 0x1e)
		}
		body = append(body, pk...)
		kinds = append(kinds, f.kind)
		if i == len(frames)-1 {
			return flush(true)
		}
	}
	return true
}

// getLoop polls until the session ends, noting acks.
func (p *poller) getLoop(ctx context.Context) {
	defer close(p.ended)
	for ctx.Err() == nil {
		code, body, err := p.r.do(ctx, http.MethodGet, p.r.pollURL("&sid="+p.sid), nil, nil)
		if err != nil || code != http.StatusOK {
			return
		}
		for _, rec := range bytes.Split(body, []byte{0x1e}) {
			if bytes.HasPrefix(rec, []byte("43")) { // Engine.IO message, Socket.IO ACK
				i := 2
				for i < len(rec) && rec[i] >= '0' && rec[i] <= '9' {
					i++
				}
				p.seen(string(rec[1:i])) // "3<id>"
			}
			if bytes.HasPrefix(rec, []byte("40")) || bytes.HasPrefix(rec, []byte("44")) {
				p.mu.Lock()
				select {
				case <-p.connected:
				default:
					if rec[1] == '4' {
						p.refused = string(rec[2:])
					}
					close(p.connected)
				}
				p.mu.Unlock()
			}
			if len(rec) == 1 && rec[0] == '1' { // the server closed the session
				return
			}
		}
	}
}

func (p *poller) ackChan(key string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.acks[key]
	if !ok {
		ch = make(chan struct{})
		p.acks[key] = ch
	}
	return ch
}

func (p *poller) seen(key string) {
	ch := p.ackChan(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

var barrierSeq struct {
	sync.Mutex
	n int64
}

// barrier posts an event with an ack and waits for the ack on the GET loop.
func (p *poller) barrier(ctx context.Context) bool {
	barrierSeq.Lock()
	barrierSeq.n++
	id := 1_000_000_000 + barrierSeq.n
	barrierSeq.Unlock()
	key := "3" + strconv.FormatInt(id, 10)
	ch := p.ackChan(key)
	body := fmt.Appendf(nil, `42%d["presence:set",{"status":"online"}]`, id)
	if code, _, err := p.r.do(ctx, http.MethodPost, p.r.pollURL("&sid="+p.sid), body, nil); err != nil || code != http.StatusOK {
		p.r.closed.Add(1)
		return false
	}
	select {
	case <-ch:
		return true
	case <-p.ended:
		p.r.closed.Add(1)
	case <-time.After(20 * time.Second):
		p.r.noAck.Add(1)
	}
	return false
}

// endRequest closes the session as a client does.
func (p *poller) endRequest(ctx context.Context) {
	_, _, _ = p.r.do(ctx, http.MethodPost, p.r.pollURL("&sid="+p.sid), []byte("1"), nil)
}

// fatalRequest ends the session by breaking the long-polling rules.
func (p *poller) fatalRequest(ctx context.Context, g *gen) {
	u := p.r.pollURL("&sid=" + p.sid)
	switch g.r.IntN(6) {
	case 0: // a second GET while the loop's GET waits
		_, _, _ = p.r.do(ctx, http.MethodGet, u, nil, nil)
		p.r.count("poll-double-get", 1)
	case 1:
		_, _, _ = p.r.do(ctx, http.MethodPost, u, bytes.Repeat([]byte("4"), p.r.cfg.MaxPayload+10), nil)
		p.r.count("poll-oversized", 1)
	default:
		body := g.pick([]string{"", "4a\x1e", "b!!!", "0", "5", "\x1e\x1e", "b", "4a\x1e\x1e4b", "9"})
		_, _, _ = p.r.do(ctx, http.MethodPost, u, []byte(body), nil)
		p.r.count("poll-bad-body", 1)
	}
}

// upgrade moves a long-polling session to a WebSocket, or tries to and misbehaves on the way.
func (r *run) upgrade(ctx context.Context, g *gen, p *poller) {
	c, err := sioclient.DialUpgrade(ctx, r.cfg.URL, p.sid, sioclient.Options{})
	if err != nil {
		r.dialStatus("/socket.io/ (upgrade)", err)
		return
	}
	defer c.Close()
	if g.r.IntN(5) == 0 { // a frame other than the probe first
		f := g.benign()[0]
		if f.raw != nil {
			_ = c.WriteRaw(f.raw)
		} else if f.text != nil {
			_ = c.WriteText(f.text)
		} else {
			_ = c.WriteBinary(f.bin)
		}
		r.count("upgrade-before-probe", 1)
		return
	}
	if err := c.WriteText([]byte("2probe")); err != nil {
		return
	}
	if ans, _, err := c.ReadRaw(10 * time.Second); err != nil || string(ans) != "3probe" {
		return
	}
	switch g.r.IntN(5) {
	case 0: // a second probe WebSocket for the same session
		if c2, err := sioclient.DialUpgrade(ctx, r.cfg.URL, p.sid, sioclient.Options{}); err == nil {
			_ = c2.WriteText([]byte("2probe"))
			c2.Close()
		} else {
			r.dialStatus("/socket.io/ (second upgrade)", err)
		}
		r.count("upgrade-second-probe", 1)
		return
	case 1: // polling traffic while the switch is pending, then give up on it
		frames, _ := r.batch(g, false)
		p.post(ctx, frames[:min(len(frames), 5)], false)
		return
	}
	if err := c.WriteText([]byte("5")); err != nil {
		return
	}
	c.StartReading()
	if err := barrier(ctx, c); err != nil {
		if c.Err() != nil {
			r.closed.Add(1)
			r.sampleClose(fmt.Sprintf("upgraded websocket closed before its first ack: %v", c.Err()))
		} else {
			r.noAck.Add(1)
			r.sampleNoAck(fmt.Sprintf("upgraded websocket, first barrier: %v", err))
		}
		return
	}
	if g.r.IntN(4) == 0 { // polling after the switch: refused with 400
		_, _, _ = r.do(ctx, http.MethodPost, r.pollURL("&sid="+p.sid), []byte("42[\"typing:stop\",{}]"), nil)
		r.count("poll-after-upgrade", 1)
	}
	r.sendWS(ctx, g, c)
}

// badRequests are Engine.IO requests that break the rules without a session of their own.
func (r *run) badRequests(ctx context.Context, g *gen) {
	base := strings.TrimRight(r.cfg.URL, "/") + "/socket.io/"
	for range 1 + g.r.IntN(8) {
		var method, u string
		var body []byte
		var hdr map[string]string
		switch g.r.IntN(12) {
		case 0:
			method, u = http.MethodGet, base+"?EIO=3&transport=polling"
		case 1:
			method, u = http.MethodGet, base+"?EIO=4&transport=flashsocket"
		case 2:
			method, u, body = http.MethodPost, base+"?EIO=4&transport=polling", []byte("40")
		case 3:
			method, u = http.MethodGet, base+"?EIO=4&transport=polling&sid="+strings.Repeat("A", g.r.IntN(5000))
		case 4:
			method, u, body = http.MethodPost, base+"?EIO=4&transport=polling&sid=nope", []byte("42[\"message:send\",{}]")
		case 5:
			method, u = http.MethodGet, base+"?EIO=4&transport=websocket"
		case 6:
			method, u, hdr = http.MethodGet, base+"?EIO=4&transport=polling", map[string]string{"Origin": "https://evil.example"}
		case 7:
			method, u = http.MethodOptions, base+"?EIO=4&transport=polling"
		case 8:
			method, u = http.MethodGet, base+"?EIO=4&transport=polling&sid=%00%ff&EIO=5"
		case 9:
			method, u = http.MethodDelete, base+"?EIO=4&transport=polling&sid=x"
		case 10:
			if sid, err := r.handshake(ctx); err == nil {
				method, u, body = http.MethodPut, base+"?EIO=4&transport=polling&sid="+sid, []byte("42[\"x\"]")
			} else {
				continue
			}
		default:
			method, u = http.MethodGet, base+"?"+strings.Repeat("EIO=4&", 1+g.r.IntN(500))+"transport=polling"
		}
		if _, _, err := r.do(ctx, method, u, body, hdr); err == nil {
			r.count("bad-request", 1)
		}
	}
}
