package engineio

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// --- handshake --------------------------------------------------------------------------------------------------

func TestHandshakePolling(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1234}, nil)
	resp, err := http.Get(ts.url + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	o := parseOpen(t, string(body))
	if len(o.SID) != 20 {
		t.Errorf("sid %q: want 20 characters", o.SID)
	}
	if len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" {
		t.Errorf("upgrades %v", o.Upgrades)
	}
	if o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1234 {
		t.Errorf("open packet %+v", o)
	}
	c := ts.h.waitOpen(t)
	if c.ID() != o.SID || c.Transport() != "polling" || c.Closed() {
		t.Errorf("conn id %q transport %q closed %v", c.ID(), c.Transport(), c.Closed())
	}
	if n := ts.eio.Count(); n != 1 {
		t.Errorf("Count %d", n)
	}
	cfg := ts.eio.Config()
	if cfg.WriteQueueLimit != 1<<20 || cfg.WriteTimeout != 10*time.Second || cfg.UpgradeTimeout != 10*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if ts.eio.Scheduler() != ts.sched {
		t.Error("Scheduler() is not the server's scheduler")
	}
}

func TestHandshakeWebSocket(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	o := parseOpen(t, w.next().data)
	if len(o.SID) != 20 || len(o.Upgrades) != 0 || o.Upgrades == nil {
		t.Errorf("open packet %+v (upgrades must be an empty list)", o)
	}
	if o.PingInterval != 25000 || o.PingTimeout != 20000 || o.MaxPayload != 1_000_000 {
		t.Errorf("defaults in the open packet: %+v", o)
	}
	c := ts.h.waitOpen(t)
	if c.ID() != o.SID || c.Transport() != "websocket" {
		t.Errorf("conn %q transport %q", c.ID(), c.Transport())
	}
	// A message sent from OnOpen-time on arrives after the open packet; messages reach the handler in order.
	c.Send(NewMessage([]byte("hello")))
	w.expect("4hello")
	w.send("4one")
	w.send("4two")
	if m := ts.h.waitMsg(t); m.data != "one" || m.binary || m.c != c {
		t.Errorf("got %+v", m)
	}
	if m := ts.h.waitMsg(t); m.data != "two" {
		t.Errorf("got %+v", m)
	}
	w.Close()
	if r := ts.h.waitClosed(t, c); r != "transport close" {
		t.Errorf("close reason %q", r)
	}
	eventually(t, "session removed", func() bool { return ts.eio.Count() == 0 })
	c.Send(NewMessage([]byte("dropped"))) // after close: dropped, no panic
}

func TestHandshakeErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("Origin") == "https://evil.example" {
			return errors.New("bad origin")
		}
		return nil
	}}, nil)
	cases := []struct {
		name, method, query string
		header              map[string]string
		status, code        int
	}{
		{"no version", "GET", "?transport=polling", nil, 400, errUnsupportedVersion},
		{"version 3", "GET", "?EIO=3&transport=polling", nil, 400, errUnsupportedVersion},
		{"unknown transport", "GET", "?EIO=4&transport=flash", nil, 400, errTransportUnknown},
		{"no transport", "GET", "?EIO=4", nil, 400, errTransportUnknown},
		{"unknown session", "GET", "?EIO=4&transport=polling&sid=nope", nil, 400, errSessionUnknown},
		{"post unknown session", "POST", "?EIO=4&transport=polling&sid=nope", nil, 400, errSessionUnknown},
		{"handshake by POST", "POST", "?EIO=4&transport=polling", nil, 400, errBadHandshakeMethod},
		{"websocket without upgrade", "GET", "?EIO=4&transport=websocket", nil, 400, errBadRequest},
		{"websocket by POST", "POST", "?EIO=4&transport=websocket", map[string]string{"Upgrade": "websocket"}, 400, errBadRequest},
		{"forbidden", "GET", "?EIO=4&transport=polling", map[string]string{"Origin": "https://evil.example"}, 403, errForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.url+tc.query, strings.NewReader("4x"))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || body.Code != tc.code || body.Message != errMessages[tc.code] {
				t.Errorf("got %d %+v, want %d code %d", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
	// An unknown session on the WebSocket transport is refused before the upgrade.
	_, _, _, err := ws.Dial(context.Background(), ts.wsURL("&sid=nope"))
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 400 {
		t.Errorf("websocket with unknown sid: %v", err)
	}
	// Another method on a known session.
	p := newPollClient(t, ts)
	p.handshake()
	if status, _ := p.do(http.MethodPut, p.sessionURL(), ""); status != 400 {
		t.Errorf("PUT: %d", status)
	}
	if ts.eio.Count() != 1 {
		t.Errorf("refused requests opened sessions: %d", ts.eio.Count())
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{CORSOrigin: "*"}, nil)
	req, _ := http.NewRequest(http.MethodOptions, ts.url+"?EIO=4&transport=polling", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(ts.url + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("handshake without the CORS header: %v", resp.Header)
	}
}

// --- heartbeat --------------------------------------------------------------------------------------------------

func TestPingPongWebSocket(t *testing.T) {
	// Pongs have a generous timeout here: a late scheduler on a loaded machine must not fail the test.
	// (A ping goes out once the previous one's pong deadline has been checked: every max(interval, timeout).)
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	start := time.Now()
	for i := 0; i < 3; i++ {
		w.expect("2")
		w.send("3")
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("3 pings in %v: faster than the 50 ms interval", elapsed)
	}
	if c.Closed() {
		t.Fatal("closed although every ping was answered")
	}
	// Stop answering: the next ping is not answered in time.
	w.expect("2")
	if r := ts.h.waitClosed(t, c); r != "ping timeout" {
		t.Errorf("close reason %q", r)
	}
	if code := closeCode(w.waitEnd()); code != ws.StatusNormalClosure {
		t.Errorf("close frame status %d", code)
	}
}

func TestPingTimeoutWebSocket(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	w.expect("2") // never answered
	if r := ts.h.waitClosed(t, c); r != "ping timeout" {
		t.Errorf("close reason %q", r)
	}
	w.waitEnd()
	eventually(t, "session removed", func() bool { return ts.eio.Count() == 0 })
}

func TestPingPongPolling(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	for i := 0; i < 3; i++ {
		status, packets := p.get()
		if status != 200 || len(packets) != 1 || string(packets[0].data) != "2" {
			t.Fatalf("poll %d: %d %v", i, status, packets)
		}
		if st := p.post("3"); st != 200 {
			t.Fatalf("pong: %d", st)
		}
	}
	if c.Closed() {
		t.Fatal("closed although every ping was answered")
	}
	// The next ping is not answered: the poll that waits gets the close packet.
	status, packets := p.get()
	if status != 200 || string(packets[0].data) != "2" {
		t.Fatalf("%d %v", status, packets)
	}
	status, packets = p.get()
	if status != 200 || len(packets) != 1 || string(packets[0].data) != "1" {
		t.Fatalf("after the ping timeout: %d %v", status, packets)
	}
	if r := ts.h.waitClosed(t, c); r != "ping timeout" {
		t.Errorf("close reason %q", r)
	}
	eventually(t, "session removed", func() bool { return ts.eio.Count() == 0 })
	if status, _ := p.get(); status != 400 {
		t.Errorf("poll after the close: %d", status)
	}
}

func TestPingTimeoutPollingWithoutPolls(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	if r := ts.h.waitClosed(t, c); r != "ping timeout" {
		t.Errorf("close reason %q", r)
	}
	if status, _ := p.get(); status != 400 {
		t.Errorf("poll after the timeout: %d", status)
	}
}

// A request that comes after the pong deadline is refused even if the scheduler has not closed the session yet.
func TestPongOverdue(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PingInterval: time.Hour}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	c.pongDeadline.Store(time.Now().Add(-time.Second).UnixNano())
	c.awaitingPong.Store(true)
	if status, _ := p.get(); status != 400 {
		t.Errorf("poll after the pong deadline: %d", status)
	}
	if r := ts.h.waitClosed(t, c); r != "ping timeout" {
		t.Errorf("close reason %q", r)
	}
}

// --- long-polling -----------------------------------------------------------------------------------------------

func TestPollingMessages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)

	// Client → server: text and base64 binary packets in one payload; noop and ping are ignored.
	if st := p.post("4hello\x1ebAQID\x1e6\x1e2\x1e4\u00e9t\u00e9"); st != 200 {
		t.Fatalf("post: %d", st)
	}
	for _, want := range []inMsg{{c, "hello", false}, {c, "\x01\x02\x03", true}, {c, "\u00e9t\u00e9", false}} {
		if m := ts.h.waitMsg(t); m != want {
			t.Errorf("got %+v, want %+v", m, want)
		}
	}
	// Server → client: queued frames come in one payload, binary attachments as "b" + base64.
	c.Send(NewMessage([]byte(`["x"]`)))
	c.Send(NewBinary([]byte{0xff, 0}))
	c.Send(NewMessage([]byte("with"), []byte{1}, []byte{}))
	status, packets := p.get()
	want := []inPacket{{[]byte(`4["x"]`), false}, {[]byte{0xff, 0}, true}, {[]byte("4with"), false},
		{[]byte{1}, true}, {[]byte{}, true}}
	if status != 200 || !samePackets(packets, want) {
		t.Fatalf("got %d %q", status, fmtPackets(packets))
	}
	// A poll waits until something is sent.
	got := make(chan []inPacket, 1)
	go func() { _, pk := p.get(); got <- pk }()
	eventually(t, "a waiting poll", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.waiting })
	c.Send(NewMessage([]byte("late")))
	select {
	case pk := <-got:
		if !samePackets(pk, []inPacket{{[]byte("4late"), false}}) {
			t.Errorf("got %q", fmtPackets(pk))
		}
	case <-time.After(waitLong):
		t.Fatal("the waiting poll was not answered")
	}
}

func samePackets(a, b []inPacket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].binary != b[i].binary || !bytes.Equal(a[i].data, b[i].data) {
			return false
		}
	}
	return true
}

func TestPollingBadPayloads(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	for _, body := range []string{"", "4a\x1e", "\x1e4a", "9", "bnot base64!", "5"} {
		t.Run(strconv.Quote(body), func(t *testing.T) {
			p := newPollClient(t, ts)
			p.handshake()
			c := ts.h.waitOpen(t)
			if st := p.post(body); st != 400 {
				t.Errorf("status %d", st)
			}
			if r := ts.h.waitClosed(t, c); r != "parse error" {
				t.Errorf("close reason %q", r)
			}
		})
	}
}

func TestPollingMaxPayload(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxPayload: 100}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	if st := p.post("4" + strings.Repeat("a", 99)); st != 200 { // exactly the limit
		t.Fatalf("a payload of MaxPayload bytes: %d", st)
	}
	ts.h.waitMsg(t)
	if st := p.post("4" + strings.Repeat("a", 100)); st != http.StatusRequestEntityTooLarge {
		t.Errorf("over the limit: %d", st)
	}
	if r := ts.h.waitClosed(t, c); r != "transport error" {
		t.Errorf("close reason %q", r)
	}
	if st := p.post("4a"); st != 400 {
		t.Errorf("post after the close: %d", st)
	}
}

func TestPollingCloseByClient(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)

	t.Run("with a waiting poll", func(t *testing.T) {
		p := newPollClient(t, ts)
		p.handshake()
		c := ts.h.waitOpen(t)
		got := make(chan []inPacket, 1)
		go func() { _, pk := p.get(); got <- pk }()
		eventually(t, "a waiting poll", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.waiting })
		if st := p.post("1"); st != 200 {
			t.Errorf("close: %d", st)
		}
		if pk := <-got; !samePackets(pk, []inPacket{{[]byte("6"), false}}) {
			t.Errorf("the waiting poll got %q, want noop", fmtPackets(pk))
		}
		if r := ts.h.waitClosed(t, c); r != "transport close" {
			t.Errorf("close reason %q", r)
		}
		eventually(t, "session removed", func() bool { return ts.eio.lookup(c.ID()) == nil })
	})

	t.Run("poll after the close", func(t *testing.T) {
		p := newPollClient(t, ts)
		p.handshake()
		c := ts.h.waitOpen(t)
		if st := p.post("1"); st != 200 {
			t.Errorf("close: %d", st)
		}
		ts.h.waitClosed(t, c)
		// The client's last poll, on its way when it closed, gets noop; then the session is gone.
		status, pk := p.get()
		if status != 200 || !samePackets(pk, []inPacket{{[]byte("6"), false}}) {
			t.Errorf("last poll: %d %q", status, fmtPackets(pk))
		}
		if status, _ := p.get(); status != 400 {
			t.Errorf("poll after that: %d", status)
		}
	})

	t.Run("lingering session expires", func(t *testing.T) {
		p := newPollClient(t, ts)
		p.handshake()
		c := ts.h.waitOpen(t)
		p.post("1")
		ts.h.waitClosed(t, c)
		eventually(t, "lingering session removed", func() bool { return ts.eio.lookup(c.ID()) == nil })
	})
}

func TestPollingTwoPollsAtOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	got := make(chan []inPacket, 1)
	go func() { _, pk := p.get(); got <- pk }()
	eventually(t, "a waiting poll", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.waiting })
	if status, _ := p.get(); status != 400 {
		t.Errorf("second poll: %d", status)
	}
	if pk := <-got; !samePackets(pk, []inPacket{{[]byte("1"), false}}) {
		t.Errorf("first poll got %q, want the close packet", fmtPackets(pk))
	}
	if r := ts.h.waitClosed(t, c); r != "transport error" {
		t.Errorf("close reason %q", r)
	}
}

func TestPollingTwoPostsAtOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	// A POST whose body is still coming keeps the session's POST slot busy.
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, p.sessionURL(), pr)
		resp, err := p.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		first <- err
	}()
	if _, err := pw.Write([]byte("4part")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a POST in progress", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.posting })
	if st := p.post("4b"); st != 400 {
		t.Errorf("second POST: %d", st)
	}
	if r := ts.h.waitClosed(t, c); r != "transport error" {
		t.Errorf("close reason %q", r)
	}
	pw.CloseWithError(errors.New("client gave up"))
	<-first
}

func TestPollingBodyReadError(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, p.sessionURL(), pr)
		if resp, err := p.hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	_, _ = pw.Write([]byte("4part"))
	eventually(t, "a POST in progress", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.posting })
	pw.CloseWithError(errors.New("connection lost")) // the chunked body ends without its last chunk
	if r := ts.h.waitClosed(t, c); r != "transport error" {
		t.Errorf("close reason %q", r)
	}
	<-done
}

func TestPollingAbortedPoll(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.sessionURL(), nil)
		if resp, err := p.hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "a waiting poll", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.waiting })
	cancel()
	<-done
	if r := ts.h.waitClosed(t, c); r != "transport close" {
		t.Errorf("close reason %q", r)
	}
}

func TestPollingQueueLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{WriteQueueLimit: 1000}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	msg := NewMessage(bytes.Repeat([]byte("x"), 100))
	for i := 0; i < 20 && !c.Closed(); i++ {
		c.Send(msg)
	}
	if r := ts.h.waitClosed(t, c); r != "transport error" {
		t.Errorf("close reason %q", r)
	}
}

// --- WebSocket --------------------------------------------------------------------------------------------------

func TestWebSocketBinary(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	w.sendBinary([]byte{1, 2, 3})
	if m := ts.h.waitMsg(t); m.data != "\x01\x02\x03" || !m.binary {
		t.Errorf("got %+v", m)
	}
	big := bytes.Repeat([]byte{7}, 70_000) // a 64-bit length header
	c.Send(NewMessage([]byte(`["b",{"_placeholder":true,"num":0}]`), []byte{9, 8}, big))
	c.Send(NewBinary([]byte{0}))
	w.expect(`4["b",{"_placeholder":true,"num":0}]`)
	if m := w.next(); !m.binary || m.data != "\x09\x08" {
		t.Errorf("first attachment %+v", m)
	}
	if m := w.next(); !m.binary || m.data != string(big) {
		t.Errorf("second attachment: binary %v, %d bytes", m.binary, len(m.data))
	}
	if m := w.next(); !m.binary || m.data != "\x00" {
		t.Errorf("binary message %+v", m)
	}
}

// frame builds a client frame by hand: masked unless told otherwise.
func frame(fin bool, op ws.OpCode, payload []byte, masked bool, rsv byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Rsv: rsv}
	p := append([]byte(nil), payload...)
	if masked {
		h.Masked = true
		h.Mask = ws.NewMask()
		ws.Cipher(p, h.Mask, 0)
	}
	_ = ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

func TestWebSocketFragmentsAndControlFrames(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	ts.h.waitOpen(t)
	// A text message in three fragments with a ping in the middle: the ping is answered at once.
	var b []byte
	b = append(b, frame(false, ws.OpText, []byte("4he"), true, 0)...)
	b = append(b, frame(true, ws.OpPing, []byte("hi"), true, 0)...)
	b = append(b, frame(false, ws.OpContinuation, []byte("ll"), true, 0)...)
	b = append(b, frame(true, ws.OpContinuation, []byte("o"), true, 0)...)
	b = append(b, frame(true, ws.OpPong, nil, true, 0)...) // unsolicited pong: ignored
	b = append(b, frame(false, ws.OpBinary, []byte{1}, true, 0)...)
	b = append(b, frame(true, ws.OpContinuation, []byte{2}, true, 0)...)
	w.writeRaw(b)
	if m := ts.h.waitMsg(t); m.data != "hello" || m.binary {
		t.Errorf("got %+v", m)
	}
	if m := ts.h.waitMsg(t); m.data != "\x01\x02" || !m.binary {
		t.Errorf("got %+v", m)
	}
	select {
	case p := <-w.pongs:
		if p != "hi" {
			t.Errorf("pong payload %q", p)
		}
	case <-time.After(waitLong):
		t.Error("no pong")
	}
	// Frames arriving one byte at a time are read all the same.
	one := frame(true, ws.OpText, []byte("4slow"), true, 0)
	for i := range one {
		w.writeRaw(one[i : i+1])
		time.Sleep(time.Millisecond)
	}
	if m := ts.h.waitMsg(t); m.data != "slow" {
		t.Errorf("got %+v", m)
	}
}

func TestWebSocketProtocolErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		frames [][]byte
		code   ws.StatusCode // 0: the connection ends without a close frame
		reason string
	}{
		{"unmasked", [][]byte{frame(true, ws.OpText, []byte("4a"), false, 0)}, ws.StatusProtocolError, "parse error"},
		{"rsv bits", [][]byte{frame(true, ws.OpText, []byte("4a"), true, 4)}, ws.StatusProtocolError, "parse error"},
		{"reserved opcode", [][]byte{frame(true, ws.OpCode(3), []byte("4a"), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"long control frame", [][]byte{frame(true, ws.OpPing, bytes.Repeat([]byte("a"), 126), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"fragmented control frame", [][]byte{frame(false, ws.OpPing, []byte("a"), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"continuation first", [][]byte{frame(true, ws.OpContinuation, []byte("4a"), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"new message inside a fragmented one", [][]byte{frame(false, ws.OpText, []byte("4a"), true, 0),
			frame(true, ws.OpText, []byte("4b"), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"invalid UTF-8", [][]byte{frame(true, ws.OpText, []byte("4\xff\xfe"), true, 0)}, ws.StatusProtocolError, "parse error"},
		{"too big", [][]byte{frame(true, ws.OpText, bytes.Repeat([]byte("4"), 101), true, 0)}, ws.StatusMessageTooBig, "parse error"},
		{"too big in fragments", [][]byte{frame(false, ws.OpText, bytes.Repeat([]byte("4"), 60), true, 0),
			frame(true, ws.OpContinuation, bytes.Repeat([]byte("a"), 60), true, 0)}, ws.StatusMessageTooBig, "parse error"},
		{"empty packet", [][]byte{frame(true, ws.OpText, nil, true, 0)}, 0, "parse error"},
		{"unknown packet type", [][]byte{frame(true, ws.OpText, []byte("9"), true, 0)}, 0, "parse error"},
		{"close frame", [][]byte{frame(true, ws.OpClose, ws.NewCloseFrameBody(ws.StatusGoingAway, ""), true, 0)}, ws.StatusNormalClosure, "transport close"},
		{"close packet", [][]byte{frame(true, ws.OpText, []byte("1"), true, 0)}, ws.StatusNormalClosure, "transport close"},
	}
	ts := newTestServer(t, Config{MaxPayload: 100}, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWS(t, ts.wsURL(""), false)
			parseOpen(t, w.next().data)
			c := ts.h.waitOpen(t)
			for _, f := range tc.frames {
				w.writeRaw(f)
			}
			err := w.waitEnd()
			if code := closeCode(err); code != tc.code {
				t.Errorf("close status %d (%v), want %d", code, err, tc.code)
			}
			if r := ts.h.waitClosed(t, c); r != tc.reason {
				t.Errorf("close reason %q, want %q", r, tc.reason)
			}
		})
	}
	eventually(t, "sessions removed", func() bool { return ts.eio.Count() == 0 })
}

func TestWebSocketMaxPayloadAccepted(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxPayload: 100}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	w.send("4" + strings.Repeat("a", 99))
	if m := ts.h.waitMsg(t); len(m.data) != 99 {
		t.Errorf("got %d bytes", len(m.data))
	}
	if c.Closed() {
		t.Error("a message of exactly MaxPayload bytes closed the session")
	}
}

// Bytes the client sends right behind its upgrade request (read by the HTTP server along with it) are not lost.
func TestWebSocketBytesAfterUpgradeRequest(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	msg := append([]byte(req), frame(true, ws.OpText, []byte("4early"), true, 0)...)
	msg = append(msg, frame(true, ws.OpText, []byte("4bird"), true, 0)...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	h, err := ws.ReadHeader(br)
	if err != nil || h.OpCode != ws.OpText {
		t.Fatalf("open frame: %+v %v", h, err)
	}
	open := make([]byte, h.Length)
	_, _ = io.ReadFull(br, open)
	parseOpen(t, string(open))
	for _, want := range []string{"early", "bird"} {
		if m := ts.h.waitMsg(t); m.data != want {
			t.Errorf("got %q, want %q", m.data, want)
		}
	}
}

// --- upgrade ----------------------------------------------------------------------------------------------------

func TestUpgrade(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	o := p.handshake()
	c := ts.h.waitOpen(t)

	c.Send(NewMessage([]byte("a")))
	c.Send(NewMessage([]byte("b")))
	if status, pk := p.get(); status != 200 || !samePackets(pk, []inPacket{{[]byte("4a"), false}, {[]byte("4b"), false}}) {
		t.Fatalf("before the upgrade: %d %q", status, fmtPackets(pk))
	}
	// A poll waits while the client probes the WebSocket.
	got := make(chan []inPacket, 1)
	go func() { _, pk := p.get(); got <- pk }()
	eventually(t, "a waiting poll", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.poll.waiting })

	w := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	w.writeRaw(frame(true, ws.OpPing, []byte("p"), true, 0)) // a WebSocket ping on the probe is answered
	w.send("2probe")
	w.expect("3probe")
	if pk := <-got; !samePackets(pk, []inPacket{{[]byte("6"), false}}) {
		t.Fatalf("the waiting poll got %q, want noop", fmtPackets(pk))
	}
	if p := <-w.pongs; p != "p" {
		t.Errorf("pong %q", p)
	}
	// Frames sent between the probe and the switch wait for it.
	c.Send(NewMessage([]byte("c")))
	c.Send(NewBinary([]byte{1, 2}))
	c.Send(NewMessage([]byte("d")))
	if c.Transport() != "polling" {
		t.Errorf("transport %q before the switch", c.Transport())
	}
	w.send("5")
	w.expect("4c")
	if m := w.next(); !m.binary || m.data != "\x01\x02" {
		t.Fatalf("got %+v", m)
	}
	w.expect("4d")
	c.Send(NewMessage([]byte("e")))
	w.expect("4e")
	if c.Transport() != "websocket" {
		t.Errorf("transport %q after the switch", c.Transport())
	}
	// Polling is over for this session.
	if status, _ := p.get(); status != 400 {
		t.Errorf("poll after the upgrade: %d", status)
	}
	if st := p.post("4x"); st != 400 {
		t.Errorf("post after the upgrade: %d", st)
	}
	w.send("4over ws")
	if m := ts.h.waitMsg(t); m.data != "over ws" {
		t.Errorf("got %+v", m)
	}
	// A second WebSocket for the same session is refused.
	w2 := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	if code := closeCode(w2.waitEnd()); code != ws.StatusPolicyViolation {
		t.Errorf("second WebSocket: close status %d", code)
	}
	if c.Closed() {
		t.Fatal("the refused WebSocket closed the session")
	}
	w.Close()
	if r := ts.h.waitClosed(t, c); r != "transport close" {
		t.Errorf("close reason %q", r)
	}
}

// A poll that starts after the probe was answered is held briefly, then answered noop.
func TestUpgradePollDuringProbe(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	o := p.handshake()
	c := ts.h.waitOpen(t)
	w := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	w.send("2probe")
	w.expect("3probe")
	if status, pk := p.get(); status != 200 || !samePackets(pk, []inPacket{{[]byte("6"), false}}) {
		t.Fatalf("poll during the probe: %d %q", status, fmtPackets(pk))
	}
	// A poll that is held when the switch comes is refused like any after it (or answered noop if its pause
	// ended first).
	got := make(chan int, 1)
	go func() { st, _ := p.get(); got <- st }()
	time.Sleep(20 * time.Millisecond)
	w.send("5")
	if st := <-got; st != 400 && st != 200 {
		t.Errorf("poll held over the switch: %d", st)
	}
	eventually(t, "the switch", func() bool { return c.Transport() == "websocket" })

	// A frame sent during a held poll is delivered by it (or by the next poll, if the pause ended first).
	p2 := newPollClient(t, ts)
	o2 := p2.handshake()
	c2 := ts.h.waitOpen(t)
	w2 := dialWS(t, ts.wsURL("&sid="+o2.SID), false)
	w2.send("2probe")
	w2.expect("3probe")
	got2 := make(chan []inPacket, 1)
	go func() { _, pk := p2.get(); got2 <- pk }()
	time.Sleep(20 * time.Millisecond)
	c2.Send(NewMessage([]byte("x")))
	pk := <-got2
	if samePackets(pk, []inPacket{{[]byte("6"), false}}) {
		_, pk = p2.get()
	}
	if !samePackets(pk, []inPacket{{[]byte("4x"), false}}) {
		t.Errorf("got %q", fmtPackets(pk))
	}
}

func TestUpgradeTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{UpgradeTimeout: 500 * time.Millisecond}, nil)
	p := newPollClient(t, ts)
	o := p.handshake()
	c := ts.h.waitOpen(t)
	w := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	w.send("2probe")
	w.expect("3probe")
	// No "5": the probe is dropped and the session goes on polling.
	w.waitEnd()
	if c.Closed() || c.Transport() != "polling" {
		t.Fatalf("closed %v transport %q", c.Closed(), c.Transport())
	}
	c.Send(NewMessage([]byte("still here")))
	if status, pk := p.get(); status != 200 || !samePackets(pk, []inPacket{{[]byte("4still here"), false}}) {
		t.Errorf("%d %q", status, fmtPackets(pk))
	}
	// And it may upgrade again.
	w2 := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	w2.send("2probe")
	w2.expect("3probe")
	w2.send("5")
	eventually(t, "the switch", func() bool { return c.Transport() == "websocket" })
}

func TestUpgradeBadProbe(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	for _, first := range []string{"5", "4hello", "2notprobe"} {
		t.Run(first, func(t *testing.T) {
			p := newPollClient(t, ts)
			o := p.handshake()
			c := ts.h.waitOpen(t)
			w := dialWS(t, ts.wsURL("&sid="+o.SID), false)
			w.send(first)
			w.waitEnd()
			if c.Closed() || c.Transport() != "polling" {
				t.Fatalf("closed %v transport %q", c.Closed(), c.Transport())
			}
			eventually(t, "probe dropped", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.probe == nil })
			if st := p.post("4ok"); st != 200 {
				t.Errorf("post: %d", st)
			}
		})
	}
}

// A session closed while a probe is open closes the probe too.
func TestCloseDuringProbe(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	p := newPollClient(t, ts)
	o := p.handshake()
	c := ts.h.waitOpen(t)
	w := dialWS(t, ts.wsURL("&sid="+o.SID), false)
	w.send("2probe")
	w.expect("3probe")
	c.Close("forced")
	w.waitEnd()
	if r := ts.h.waitClosed(t, c); r != "forced" {
		t.Errorf("close reason %q", r)
	}
}

// --- server close -----------------------------------------------------------------------------------------------

func TestServerClose(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	cw := ts.h.waitOpen(t)
	p := newPollClient(t, ts)
	p.handshake()
	cp := ts.h.waitOpen(t)
	got := make(chan []inPacket, 1)
	go func() { _, pk := p.get(); got <- pk }()
	eventually(t, "a waiting poll", func() bool { cp.mu.Lock(); defer cp.mu.Unlock(); return cp.poll.waiting })

	ts.eio.Close()
	if code := closeCode(w.waitEnd()); code != ws.StatusNormalClosure {
		t.Errorf("websocket close status %d", code)
	}
	if pk := <-got; !samePackets(pk, []inPacket{{[]byte("1"), false}}) {
		t.Errorf("waiting poll got %q, want the close packet", fmtPackets(pk))
	}
	for _, c := range []*Conn{cw, cp} {
		if r := ts.h.waitClosed(t, c); r != "server shutting down" {
			t.Errorf("close reason %q", r)
		}
	}
	if n := ts.eio.Count(); n != 0 {
		t.Errorf("Count %d after Close", n)
	}
	// New sessions are refused.
	status, _ := newPollClient(t, ts).do(http.MethodGet, ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusServiceUnavailable {
		t.Errorf("handshake after Close: %d", status)
	}
	if w2, err := tryDialWS(ts.wsURL(""), false, nil, nil); err == nil {
		w2.t = t
		w2.waitEnd() // the upgrade itself succeeds, but the connection ends at once
	}
	if n := ts.eio.Count(); n != 0 {
		t.Errorf("Count %d after a handshake on a closed server", n)
	}
}

// --- ordering and slow clients ----------------------------------------------------------------------------------

// Frames sent from many goroutines arrive complete and, per sender, in order — also when the socket buffer fills
// and the writer goroutine takes over.
func TestConcurrentSendersWebSocket(t *testing.T) {
	ts := newTestServer(t, Config{WriteQueueLimit: 256 << 20, PingInterval: time.Hour}, nil)
	w := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	const senders, per = 8, 150
	sendConcurrently(c, senders, per)
	next := make([]int, senders)
	for n := 0; n < senders*per; n++ {
		m := w.next()
		checkSeq(t, m.data, next)
	}
	if c.Closed() {
		t.Error("closed")
	}
}

func TestConcurrentSendersPolling(t *testing.T) {
	ts := newTestServer(t, Config{WriteQueueLimit: 256 << 20, PingInterval: time.Hour}, nil)
	p := newPollClient(t, ts)
	p.handshake()
	c := ts.h.waitOpen(t)
	const senders, per = 8, 100
	sendConcurrently(c, senders, per)
	next := make([]int, senders)
	for n := 0; n < senders*per; {
		status, packets := p.get()
		if status != 200 {
			t.Fatalf("poll: %d", status)
		}
		for _, pk := range packets {
			checkSeq(t, string(pk.data), next)
			n++
		}
	}
}

// sendConcurrently sends "4<sender>:<seq>:<padding>" frames; every 10th is large.
func sendConcurrently(c *Conn, senders, per int) {
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				pad := 10 + i%7
				if i%10 == 0 {
					pad = 32 << 10
				}
				c.Send(NewMessage([]byte(fmt.Sprintf("%d:%d:%s", g, i, strings.Repeat("x", pad)))))
			}
		}()
	}
	wg.Wait()
}

func checkSeq(t *testing.T, data string, next []int) {
	t.Helper()
	parts := strings.SplitN(strings.TrimPrefix(data, "4"), ":", 3)
	if len(parts) != 3 || !strings.HasPrefix(data, "4") {
		t.Fatalf("malformed frame %.40q", data)
	}
	g, _ := strconv.Atoi(parts[0])
	i, _ := strconv.Atoi(parts[1])
	if i != next[g] {
		t.Fatalf("sender %d: got #%d, want #%d", g, i, next[g])
	}
	next[g]++
	want := 10 + i%7
	if i%10 == 0 {
		want = 32 << 10
	}
	if len(parts[2]) != want || strings.Trim(parts[2], "x") != "" {
		t.Fatalf("sender %d #%d: padding of %d bytes, want %d", g, i, len(parts[2]), want)
	}
}

// A client that stops reading is disconnected once its queue passes WriteQueueLimit; a client that reads, sent
// the same frames, gets every one of them.
func TestSlowWebSocketClientIsDisconnected(t *testing.T) {
	ts := newTestServer(t, Config{WriteQueueLimit: 256 << 10, WriteTimeout: time.Second, PingInterval: time.Hour}, nil)
	fast := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, fast.next().data)
	cFast := ts.h.waitOpen(t)
	hold := make(chan struct{})
	slow, err := tryDialWS(ts.wsURL(""), false, hold, smallReadBuffer)
	if err != nil {
		t.Fatal(err)
	}
	slow.t = t
	// Dropped, not closed: with its tiny receive window, reading what is queued for it would take a long while.
	t.Cleanup(slow.drop)
	cSlow := ts.h.waitOpen(t)

	payload := bytes.Repeat([]byte("y"), 32<<10)
	sent := 0
	received := 0
	for ; sent < 4000; sent++ {
		f := NewMessage(append([]byte(strconv.Itoa(sent)+":"), payload...))
		cSlow.Send(f) // never blocks
		cFast.Send(f)
		// The fast client keeps up (it reads as we go), so only the slow one falls behind.
		for received < sent-4 {
			checkFast(t, fast.next(), received)
			received++
		}
		if _, closed := ts.h.closeReason(cSlow); closed && sent > 50 {
			break
		}
	}
	if r := ts.h.waitClosed(t, cSlow); r != "transport error" {
		t.Errorf("slow client close reason %q", r)
	}
	for ; received <= sent && received < 4000; received++ {
		checkFast(t, fast.next(), received)
	}
	if cFast.Closed() {
		t.Error("the fast client was closed")
	}
	t.Logf("slow client closed after %d frames of %d KiB", sent, len(payload)>>10)
}

func checkFast(t *testing.T, m wsMsg, want int) {
	t.Helper()
	prefix := "4" + strconv.Itoa(want) + ":"
	if !strings.HasPrefix(m.data, prefix) || len(m.data) != len(prefix)+32<<10 {
		t.Fatalf("fast client: got %.20q (%d bytes), want frame %d", m.data, len(m.data), want)
	}
}

// smallReadBuffer dials with a small socket receive buffer, so a client that does not read fills up quickly.
func smallReadBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	}
	return conn, err
}

// After many sessions come and go, no goroutine is left behind.
func TestNoGoroutineLeak(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second}, nil)
	// Warm up (HTTP keep-alive connections, pools), then measure.
	p := newPollClient(t, ts)
	p.handshake()
	ts.h.waitOpen(t)
	p.post("1")
	base := goroutineBase()
	for i := 0; i < 40; i++ {
		w, err := tryDialWS(ts.wsURL(""), true, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.t = t
		parseOpen(t, w.next().data)
		c := ts.h.waitOpen(t)
		w.send("4hi")
		ts.h.waitMsg(t)
		if i%2 == 0 {
			w.Close()
		} else {
			c.Close("bye") // closed by the server this time
			w.waitEnd()
		}
		ts.h.waitClosed(t, c)

		p := newPollClient(t, ts)
		p.handshake()
		pc := ts.h.waitOpen(t)
		p.post("4x\x1e1")
		ts.h.waitMsg(t)
		ts.h.waitClosed(t, pc)
		p.hc.CloseIdleConnections()
	}
	eventually(t, "sessions removed", func() bool { return ts.eio.Count() == 0 })
	ts.http.CloseClientConnections()
	if n := goroutinesSettle(t, base+5); n > base+5 {
		t.Errorf("%d goroutines after the sessions ended, %d before", n, base)
	}
}

// Over TLS the connection is not a plain socket: each WebSocket has a reader goroutine and every write goes
// through the writer goroutine. The protocol is the same.
func TestWebSocketOverTLS(t *testing.T) {
	t.Parallel()
	ts := newTestServerTLS(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second, MaxPayload: 1 << 20}, nil, true)
	w := dialWS(t, ts.wsURL(""), true)
	parseOpen(t, w.next().data)
	c := ts.h.waitOpen(t)
	w.send("4hello")
	if m := ts.h.waitMsg(t); m.data != "hello" {
		t.Errorf("got %+v", m)
	}
	w.writeRaw(frame(true, ws.OpPing, []byte("x"), true, 0))
	if p := <-w.pongs; p != "x" {
		t.Errorf("pong %q", p)
	}
	big := bytes.Repeat([]byte("z"), 200_000)
	for i := 0; i < 5; i++ {
		c.Send(NewMessage(big))
	}
	c.Send(NewBinary([]byte{1}))
	for i := 0; i < 5; i++ {
		if m := w.nextSkippingPings(); len(m.data) != len(big)+1 {
			t.Fatalf("frame %d: %d bytes", i, len(m.data))
		}
	}
	if m := w.nextSkippingPings(); !m.binary || m.data != "\x01" {
		t.Errorf("got %+v", m)
	}
	time.Sleep(150 * time.Millisecond) // a few heartbeats, answered
	if c.Closed() {
		t.Fatal("closed")
	}
	w.writeRaw(frame(true, ws.OpText, []byte("4\xff"), true, 0)) // invalid UTF-8
	// (Only a plain socket gets the close frame with the status: it is written without blocking or not at all.)
	if code := closeCode(w.waitEnd()); code != ws.StatusProtocolError && code != 0 {
		t.Errorf("close status %d", code)
	}
	if r := ts.h.waitClosed(t, c); r != "parse error" {
		t.Errorf("close reason %q", r)
	}

	// Closed by the server, and the upgrade from polling, over TLS too.
	w2 := dialWS(t, ts.wsURL(""), true)
	parseOpen(t, w2.next().data)
	c2 := ts.h.waitOpen(t)
	c2.Close("bye")
	if code := closeCode(w2.waitEnd()); code != ws.StatusNormalClosure {
		t.Errorf("close status %d", code)
	}
	ts.h.waitClosed(t, c2)

	p := newPollClient(t, ts)
	p.hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	o := p.handshake()
	c3 := ts.h.waitOpen(t)
	w3 := dialWS(t, ts.wsURL("&sid="+o.SID), true)
	w3.send("2probe")
	w3.expect("3probe")
	w3.send("5")
	eventually(t, "the switch", func() bool { return c3.Transport() == "websocket" })
	c3.Send(NewMessage([]byte("after")))
	w3.expect("4after")
}

// A client with a backlog (its socket buffer full, the writer goroutine waiting on it) that breaks the protocol
// must not hold up senders: a broadcast that reaches it on the way to others goes on at once.
func TestProtocolErrorWithBacklogDoesNotBlockSenders(t *testing.T) {
	const writeTimeout = 8 * time.Second
	ts := newTestServer(t, Config{WriteQueueLimit: 64 << 20, WriteTimeout: writeTimeout, MaxPayload: 1000, PingInterval: time.Hour}, nil)
	hold := make(chan struct{})
	slow, err := tryDialWS(ts.wsURL(""), false, hold, smallReadBuffer)
	if err != nil {
		t.Fatal(err)
	}
	slow.t = t
	t.Cleanup(slow.drop)
	cSlow := ts.h.waitOpen(t)
	fast := dialWS(t, ts.wsURL(""), false)
	parseOpen(t, fast.next().data)
	cFast := ts.h.waitOpen(t)

	// More than the kernel's socket buffers can take: the writer goroutine is left waiting on the socket.
	big := NewMessage(bytes.Repeat([]byte("b"), 64<<10))
	queued := func() int { cSlow.mu.Lock(); defer cSlow.mu.Unlock(); return cSlow.ws.queued }
	for i := 0; i < 500 && queued() < 8<<20; i++ {
		cSlow.Send(big)
	}
	if queued() < 8<<20 {
		t.Fatalf("no backlog built up (%d bytes queued)", queued())
	}
	// The slow client sends a message over MaxPayload: the server answers the protocol error.
	slow.writeRaw(frame(true, ws.OpText, bytes.Repeat([]byte("4"), 2000), true, 0))
	time.Sleep(100 * time.Millisecond) // let the reader get to it
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := NewMessage([]byte("broadcast"))
		cSlow.Send(f) // first in the loop: members of a room come in any order
		cFast.Send(f)
	}()
	fast.expect("4broadcast")
	if d := time.Since(start); d > writeTimeout/2 {
		t.Errorf("the broadcast took %v: a client with a backlog held it up", d)
	}
	<-done
	// (The writer goroutine, failing on the closed socket, may report first.)
	if r := ts.h.waitClosed(t, cSlow); r != "parse error" && r != "transport error" {
		t.Errorf("close reason %q", r)
	}
}
