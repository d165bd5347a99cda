package engineio

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Generous deadlines: CI runs these on a busy 2-core machine under -race.
const waitLong = 10 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --- a recording handler ----------------------------------------------------------------------------------------

type inMsg struct {
	c      *Conn
	data   string
	binary bool
}

type closeEvent struct {
	c      *Conn
	reason string
}

type recHandler struct {
	opened chan *Conn
	msgs   chan inMsg
	closed chan closeEvent
	// onMessage, when set, runs instead of recording (echo servers and the like).
	onMessage func(c *Conn, data []byte, binary bool)
	onOpen    func(c *Conn)

	mu      sync.Mutex
	reasons map[*Conn]string
}

func newRecHandler() *recHandler {
	return &recHandler{opened: make(chan *Conn, 1024), msgs: make(chan inMsg, 1<<16),
		closed: make(chan closeEvent, 1024), reasons: map[*Conn]string{}}
}

func (h *recHandler) OnOpen(c *Conn, r *http.Request) {
	if h.onOpen != nil {
		h.onOpen(c)
	}
	h.opened <- c
}

func (h *recHandler) OnMessage(c *Conn, data []byte, binary bool) {
	if h.onMessage != nil {
		h.onMessage(c, data, binary)
		return
	}
	h.msgs <- inMsg{c, string(data), binary}
}

func (h *recHandler) OnClose(c *Conn, reason string) {
	h.mu.Lock()
	if _, dup := h.reasons[c]; dup {
		h.mu.Unlock()
		panic("OnClose called twice for " + c.ID())
	}
	h.reasons[c] = reason
	h.mu.Unlock()
	h.closed <- closeEvent{c, reason}
}

func (h *recHandler) closeReason(c *Conn) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.reasons[c]
	return r, ok
}

func (h *recHandler) waitOpen(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-h.opened:
		return c
	case <-time.After(waitLong):
		t.Fatal("no OnOpen")
		return nil
	}
}

func (h *recHandler) waitMsg(t testing.TB) inMsg {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(waitLong):
		t.Fatal("no OnMessage")
		return inMsg{}
	}
}

// waitClosed waits until c's OnClose ran and returns its reason.
func (h *recHandler) waitClosed(t testing.TB, c *Conn) string {
	t.Helper()
	var reason string
	eventually(t, "OnClose of "+c.ID(), func() bool {
		var ok bool
		reason, ok = h.closeReason(c)
		return ok
	})
	return reason
}

// --- the server under test --------------------------------------------------------------------------------------

type testServer struct {
	eio   *Server
	http  *httptest.Server
	sched *Scheduler
	h     *recHandler
	url   string // http://127.0.0.1:port/engine.io/
}

func newTestServer(t testing.TB, cfg Config, h *recHandler) *testServer {
	t.Helper()
	return newTestServerTLS(t, cfg, h, false)
}

// newTestServerTLS serves over TLS when asked: a connection that is not a plain socket (no non-blocking writes,
// no poller).
func newTestServerTLS(t testing.TB, cfg Config, h *recHandler, useTLS bool) *testServer {
	t.Helper()
	if h == nil {
		h = newRecHandler()
	}
	sched := NewScheduler()
	eio := New(cfg, h, sched, quietLog)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	var hs *httptest.Server
	if useTLS {
		hs = httptest.NewTLSServer(mux)
	} else {
		hs = httptest.NewServer(mux)
	}
	ts := &testServer{eio: eio, http: hs, sched: sched, h: h, url: hs.URL + "/engine.io/"}
	t.Cleanup(func() {
		eio.Close()
		hs.Close()
		sched.Close()
	})
	return ts
}

func (ts *testServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ts.url, "http") + "?EIO=4&transport=websocket" + query
}

// --- a small WebSocket client -----------------------------------------------------------------------------------

type wsMsg struct {
	data   string
	binary bool
}

type wsClient struct {
	t    testing.TB
	conn net.Conn
	in   chan wsMsg
	done chan struct{}

	autoPong bool
	hold     chan struct{} // when set, the reader starts only once it is closed (a client that does not read)
	pongs    chan string   // WebSocket pong payloads

	holdOnce sync.Once

	wmu      sync.Mutex
	closeErr error // the close frame or read error that ended the reader (after done)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func dialWS(t testing.TB, url string, autoPong bool) *wsClient {
	t.Helper()
	c, err := tryDialWS(url, autoPong, nil, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.t = t
	t.Cleanup(c.Close)
	return c
}

func tryDialWS(url string, autoPong bool, hold chan struct{}, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	d := ws.Dialer{NetDial: netDial}
	if strings.HasPrefix(url, "wss:") {
		d.TLSConfig = &tls.Config{InsecureSkipVerify: true} // httptest's certificate
	}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &wsClient{conn: conn, in: make(chan wsMsg, 1<<16), done: make(chan struct{}), autoPong: autoPong,
		hold: hold, pongs: make(chan string, 16)}
	var r io.Reader = conn
	if br != nil {
		r = br
	} else {
		r = bufio.NewReaderSize(conn, 64<<10)
	}
	go c.readLoop(r)
	return c, nil
}

func (c *wsClient) readLoop(r io.Reader) {
	defer close(c.done)
	defer c.conn.Close()
	if c.hold != nil {
		<-c.hold
	}
	w := lockedWriter{&c.wmu, c.conn}
	control := wsutil.ControlFrameHandler(w, ws.StateClientSide)
	rd := &wsutil.Reader{Source: r, State: ws.StateClientSide, CheckUTF8: true}
	for {
		h, err := rd.NextFrame()
		if err != nil {
			c.closeErr = err
			return
		}
		if h.OpCode == ws.OpPong {
			p, _ := io.ReadAll(rd)
			c.pongs <- string(p)
			continue
		}
		if h.OpCode == ws.OpClose {
			// Answered here, so a failed answer (the server may have closed already) does not hide its status.
			p, _ := io.ReadAll(rd)
			code, reason := ws.StatusNoStatusRcvd, ""
			if len(p) >= 2 {
				code, reason = ws.ParseCloseFrameData(p)
			}
			c.wmu.Lock()
			_ = ws.WriteFrame(c.conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))))
			c.wmu.Unlock()
			c.closeErr = wsutil.ClosedError{Code: code, Reason: reason}
			return
		}
		if h.OpCode.IsControl() {
			if err := control(h, rd); err != nil {
				c.closeErr = err
				return
			}
			continue
		}
		data, err := io.ReadAll(rd)
		if err != nil {
			c.closeErr = err
			return
		}
		if c.autoPong && h.OpCode == ws.OpText && string(data) == "2" {
			_ = c.write(ws.OpText, []byte("3"))
			continue
		}
		c.in <- wsMsg{string(data), h.OpCode == ws.OpBinary}
	}
}

func (c *wsClient) write(op ws.OpCode, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientMessage(c.conn, op, data)
}

func (c *wsClient) send(text string) {
	if err := c.write(ws.OpText, []byte(text)); err != nil {
		c.t.Errorf("send %q: %v", text, err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	if err := c.write(ws.OpBinary, b); err != nil {
		c.t.Errorf("send binary: %v", err)
	}
}

// writeRaw writes bytes as they are (hand-made frames).
func (c *wsClient) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Errorf("write: %v", err)
	}
}

func (c *wsClient) next() wsMsg {
	c.t.Helper()
	select {
	case m := <-c.in:
		return m
	case <-c.done:
		select {
		case m := <-c.in:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting for a message: %v", c.closeErr)
	case <-time.After(waitLong):
		c.t.Fatal("no message from the server")
	}
	return wsMsg{}
}

func (c *wsClient) expect(want string) {
	c.t.Helper()
	if m := c.next(); m.binary || m.data != want {
		c.t.Fatalf("got %q (binary %v), want text %q", m.data, m.binary, want)
	}
}

// nextSkippingPings returns the next message that is not an Engine.IO ping.
func (c *wsClient) nextSkippingPings() wsMsg {
	c.t.Helper()
	for {
		if m := c.next(); m.binary || m.data != "2" {
			return m
		}
	}
}

// waitEnd waits until the server ended the connection and returns why the reader stopped.
func (c *wsClient) waitEnd() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.closeErr
	case <-time.After(waitLong):
		c.t.Fatal("the server did not close the connection")
		return nil
	}
}

// closeCode is the status of the server's close frame, or 0 when the connection ended without one.
func closeCode(err error) ws.StatusCode {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// release lets a held reader start.
func (c *wsClient) release() {
	if c.hold != nil {
		c.holdOnce.Do(func() { close(c.hold) })
	}
}

// drop ends the TCP connection without a close frame (a client that vanishes).
func (c *wsClient) drop() {
	c.release()
	_ = c.conn.Close()
	<-c.done
}

// Close sends a close frame and waits for the reader to end.
func (c *wsClient) Close() {
	c.release()
	select {
	case <-c.done:
		return
	default:
	}
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = ws.WriteFrame(c.conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		_ = c.conn.Close()
		<-c.done
	}
}

// openPacket reads the handshake of a WebSocket session.
type openInfo struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t testing.TB, packet string) openInfo {
	t.Helper()
	if !strings.HasPrefix(packet, "0") {
		t.Fatalf("not an open packet: %q", packet)
	}
	var o openInfo
	if err := json.Unmarshal([]byte(packet[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", packet, err)
	}
	return o
}

// --- a small long-polling client --------------------------------------------------------------------------------

type pollClient struct {
	t   testing.TB
	url string // base, with EIO and transport
	sid string
	hc  *http.Client
}

func newPollClient(t testing.TB, ts *testServer) *pollClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	return &pollClient{t: t, url: ts.url + "?EIO=4&transport=polling", hc: &http.Client{Transport: tr, Timeout: waitLong}}
}

// handshake opens a session and returns its open packet.
func (p *pollClient) handshake() openInfo {
	p.t.Helper()
	status, body := p.do(http.MethodGet, p.url, "")
	if status != http.StatusOK {
		p.t.Fatalf("handshake: status %d %s", status, body)
	}
	o := parseOpen(p.t, body)
	p.sid = o.SID
	return o
}

func (p *pollClient) sessionURL() string { return p.url + "&sid=" + p.sid }

func (p *pollClient) do(method, url, body string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// get is one poll: status and the decoded packets.
func (p *pollClient) get() (int, []inPacket) {
	p.t.Helper()
	status, body := p.do(http.MethodGet, p.sessionURL(), "")
	if status != http.StatusOK {
		return status, nil
	}
	packets, err := decodePayload([]byte(body))
	if err != nil {
		p.t.Fatalf("poll payload %q: %v", body, err)
	}
	return status, packets
}

func (p *pollClient) post(payload string) int {
	p.t.Helper()
	status, _ := p.do(http.MethodPost, p.sessionURL(), payload)
	return status
}

// goroutineBase is the number of goroutines once it stopped changing for a moment.
func goroutineBase() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// goroutinesSettle waits until the number of goroutines is at most limit.
func goroutinesSettle(t testing.TB, limit int) int {
	t.Helper()
	var n int
	deadline := time.Now().Add(waitLong)
	for {
		n = runtime.NumGoroutine()
		if n <= limit || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fmtPackets(pk []inPacket) string {
	var b strings.Builder
	for i, p := range pk {
		if i > 0 {
			b.WriteString(" ")
		}
		if p.binary {
			fmt.Fprintf(&b, "bin%q", p.data)
		} else {
			fmt.Fprintf(&b, "%q", p.data)
		}
	}
	return "[" + b.String() + "]"
}
