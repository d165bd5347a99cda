package socketio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/parleychat/parley/internal/engineio"
)

// Generous deadlines: CI runs these on a busy 2-core machine under -race.
const waitLong = 10 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

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

// recv waits for a value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// --- the server under test --------------------------------------------------------------------------------------

type sioServer struct {
	io   *Server
	http *httptest.Server
	url  string // http://127.0.0.1:port/socket.io/
}

func newSIOServer(t testing.TB, cfg Config, setup func(io *Server)) *sioServer {
	t.Helper()
	io := New(cfg, quietLog)
	if setup != nil {
		setup(io)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		io.Close()
		hs.Close()
	})
	return &sioServer{io: io, http: hs, url: hs.URL + "/socket.io/"}
}

func (s *sioServer) wsURL() string {
	return "ws" + strings.TrimPrefix(s.url, "http") + "?EIO=4&transport=websocket"
}

// connected collects the sockets of a namespace as they connect.
func connected(n *Namespace) <-chan *Socket {
	ch := make(chan *Socket, 1024)
	n.OnConnection(func(s *Socket) { ch <- s })
	return ch
}

type disconnection struct {
	s      *Socket
	reason string
}

func disconnected(n *Namespace) <-chan disconnection {
	ch := make(chan disconnection, 1024)
	n.OnDisconnect(func(s *Socket, reason string) { ch <- disconnection{s, reason} })
	return ch
}

// --- a small Socket.IO client over WebSocket --------------------------------------------------------------------

type wsMsg struct {
	data   string
	binary bool
}

type tclient struct {
	t    testing.TB
	conn net.Conn
	in   chan wsMsg
	done chan struct{}
	sid  string // the Engine.IO session

	received atomic.Int64 // messages read so far
	paused   atomic.Bool  // set: the reader stops at the next message (a client that does not read)
	resume   chan struct{}
	once     sync.Once

	wmu      sync.Mutex
	closeErr error
}

// dial opens an Engine.IO session over WebSocket (answering its pings) and reads the open packet.
func dial(t testing.TB, s *sioServer) *tclient {
	t.Helper()
	c, err := dialWith(s.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.t = t
	t.Cleanup(c.Close)
	m := c.next()
	var open struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(m.data, "0") || json.Unmarshal([]byte(m.data[1:]), &open) != nil {
		t.Fatalf("open packet %q", m.data)
	}
	c.sid = open.SID
	return c
}

func dialWith(url string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*tclient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	conn, br, _, err := ws.Dialer{NetDial: netDial}.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &tclient{conn: conn, in: make(chan wsMsg, 1<<16), done: make(chan struct{}), resume: make(chan struct{})}
	if br == nil {
		br = bufio.NewReaderSize(conn, 64<<10)
	}
	go c.readLoop(br)
	return c, nil
}

func (c *tclient) readLoop(r io.Reader) {
	defer close(c.done)
	defer c.conn.Close()
	rd := &wsutil.Reader{Source: r, State: ws.StateClientSide, CheckUTF8: true}
	for {
		if c.paused.Load() {
			<-c.resume
		}
		h, err := rd.NextFrame()
		if err != nil {
			c.closeErr = err
			return
		}
		if h.OpCode == ws.OpClose {
			p, _ := io.ReadAll(rd)
			code := ws.StatusNoStatusRcvd
			if len(p) >= 2 {
				code, _ = ws.ParseCloseFrameData(p)
			}
			c.wmu.Lock()
			_ = ws.WriteFrame(c.conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))))
			c.wmu.Unlock()
			c.closeErr = wsutil.ClosedError{Code: code}
			return
		}
		if h.OpCode.IsControl() {
			_, _ = io.Copy(io.Discard, rd)
			continue
		}
		data, err := io.ReadAll(rd)
		if err != nil {
			c.closeErr = err
			return
		}
		if h.OpCode == ws.OpText && string(data) == "2" {
			_ = c.write(ws.OpText, []byte("3"))
			continue
		}
		c.received.Add(1)
		c.in <- wsMsg{string(data), h.OpCode == ws.OpBinary}
	}
}

func (c *tclient) write(op ws.OpCode, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientMessage(c.conn, op, data)
}

// send sends a Socket.IO packet (an Engine.IO message).
func (c *tclient) send(packet string) {
	if err := c.write(ws.OpText, []byte("4"+packet)); err != nil {
		c.t.Errorf("send %q: %v", packet, err)
	}
}

func (c *tclient) sendBinary(b []byte) {
	if err := c.write(ws.OpBinary, b); err != nil {
		c.t.Errorf("send binary: %v", err)
	}
}

func (c *tclient) next() wsMsg {
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

// nextPacket is the next Socket.IO packet (text, without the Engine.IO message type).
func (c *tclient) nextPacket() string {
	c.t.Helper()
	m := c.next()
	if m.binary || !strings.HasPrefix(m.data, "4") {
		c.t.Fatalf("got %q (binary %v), want a message", m.data, m.binary)
	}
	return m.data[1:]
}

func (c *tclient) expect(packet string) {
	c.t.Helper()
	if got := c.nextPacket(); got != packet {
		c.t.Fatalf("got %q, want %q", got, packet)
	}
}

func (c *tclient) expectBinary(want []byte) {
	c.t.Helper()
	if m := c.next(); !m.binary || m.data != string(want) {
		c.t.Fatalf("got %q (binary %v), want attachment %q", m.data, m.binary, want)
	}
}

// connect joins a namespace ("/" or "/name") with an auth payload ("" for none) and returns the socket id.
func (c *tclient) connect(nsp, auth string) string {
	c.t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.send(prefix + auth)
	got := c.nextPacket()
	var answer struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(got, prefix+"{") || json.Unmarshal([]byte(got[len(prefix):]), &answer) != nil || answer.SID == "" {
		c.t.Fatalf("CONNECT %s answered %q", nsp, got)
	}
	return answer.SID
}

func (c *tclient) pause() { c.paused.Store(true) }

func (c *tclient) waitEnd() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.closeErr
	case <-time.After(waitLong):
		c.t.Fatal("the server did not close the connection")
		return nil
	}
}

func (c *tclient) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close sends a close frame and waits for the reader to end.
func (c *tclient) Close() {
	c.once.Do(func() { close(c.resume) })
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

// drop ends the TCP connection without a close frame (a client that vanishes).
func (c *tclient) drop() {
	c.once.Do(func() { close(c.resume) })
	_ = c.conn.Close()
	<-c.done
}

func closeCode(err error) ws.StatusCode {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func localAdapter(n *Namespace) *LocalAdapter { return n.Adapter().(*LocalAdapter) }

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

// goroutinesSettle waits until the number of goroutines is at most limit and returns the last count.
func goroutinesSettle(limit int) int {
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

// engineConn is the Engine.IO connection of a socket (tests only).
func engineConn(s *Socket) *engineio.Conn { return s.client.conn }

// smallReadBuffer dials with a small socket receive buffer, so a client that does not read fills up quickly.
func smallReadBuffer(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	}
	return conn, err
}
