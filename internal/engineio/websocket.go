package engineio

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// wsTransport is one WebSocket connection. Its write state is guarded by the owning Conn's mu.
type wsTransport struct {
	conn net.Conn
	raw  syscall.RawConn // for non-blocking writes; nil when the connection is not a plain socket (TLS)

	pending  [][]byte // bytes waiting for the writer goroutine
	queued   int      // bytes pending or being written by it
	flushing bool     // the writer goroutine runs
	closing  bool     // close once pending is written
	broken   bool     // a write failed: drop further writes

	leftover []byte   // bytes the HTTP server read past the upgrade request
	rw       rawWrite // the non-blocking write's reusable state

	// Read side: used by one reader at a time (the poller arms the connection again only after a burst).
	pr        prefixReader
	msg       []byte // a fragmented message being assembled
	msgBinary bool
	probing   bool   // an upgrade probe: packets go to onProbePacket until "5"
	reason    string // why the reader ended the connection, when it was not a plain close (guarded by mu)
	fd        int    // for the poller
	token     uint32 // the poller's key for this connection
	ended     bool   // guarded by the Conn's mu
}

func newWSTransport(conn net.Conn, br *bufio.Reader) *wsTransport {
	t := &wsTransport{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			t.raw = raw
		}
	}
	if br != nil && br.Buffered() > 0 {
		t.leftover, _ = br.Peek(br.Buffered())
		t.leftover = append([]byte(nil), t.leftover...)
	}
	return t
}

// writeLocked writes b (complete frames) or queues it behind earlier bytes. True when the queue passed the
// connection's limit (the caller closes the session).
func (t *wsTransport) writeLocked(c *Conn, b []byte) bool {
	if t.broken || t.closing {
		return false
	}
	if !t.flushing {
		n, err := t.tryWrite(b)
		if err != nil {
			t.broken = true
			go c.Close("transport error")
			return false
		}
		if n == len(b) {
			return false
		}
		b = b[n:]
		t.flushing = true
		go t.flush(c)
	}
	t.pending = append(t.pending, b)
	t.queued += len(b)
	return t.queued > c.srv.cfg.WriteQueueLimit
}

// flush is the writer goroutine of a connection whose socket buffer filled up: it writes the queue with
// blocking writes (bounded by WriteTimeout each) until it is empty, then ends.
func (t *wsTransport) flush(c *Conn) {
	var bufs net.Buffers
	for {
		c.mu.Lock()
		if len(t.pending) == 0 || t.broken {
			t.flushing = false
			t.queued = 0
			closing := t.closing
			c.mu.Unlock()
			if closing {
				t.shutdown(c)
			}
			return
		}
		bufs, t.pending = t.pending, nil
		c.mu.Unlock()
		n := 0
		for _, b := range bufs {
			n += len(b)
		}
		_ = t.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		_, err := bufs.WriteTo(t.conn)
		_ = t.conn.SetWriteDeadline(time.Time{})
		c.mu.Lock()
		t.queued -= n
		if err != nil {
			t.broken = true
		}
		c.mu.Unlock()
		if err != nil {
			go c.Close("transport error")
		}
	}
}

// closeLocked sends a close frame after what is queued, then half-closes; the reader ends the connection.
func (t *wsTransport) closeLocked(c *Conn) {
	if t.closing {
		return
	}
	frame := wsControlFrame(opClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if !t.broken && !t.flushing {
		if n, err := t.tryWrite(frame); err == nil && n < len(frame) {
			t.pending = append(t.pending, frame[n:])
			t.flushing = true
			go t.flush(c)
		}
	} else if !t.broken {
		t.pending = append(t.pending, frame)
	}
	t.closing = true
	if !t.flushing {
		t.shutdown(c)
	}
}

// shutdown stops sending and gives the client a moment to answer the close; then the connection ends.
func (t *wsTransport) shutdown(c *Conn) {
	if cw, ok := t.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		c.srv.sched.After(5*time.Second, func() { t.end(c) })
		return
	}
	go t.end(c)
}

// acceptWebSocket completes the WebSocket handshake (nil if it failed; gobwas/ws has answered the client).
func (s *Server) acceptWebSocket(w http.ResponseWriter, r *http.Request) *wsTransport {
	conn, rw, _, err := s.upgr.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil
	}
	return newWSTransport(conn, rw.Reader)
}

// openWebSocket is a handshake directly over WebSocket.
func (s *Server) openWebSocket(w http.ResponseWriter, r *http.Request) {
	t := s.acceptWebSocket(w, r)
	if t == nil {
		return
	}
	conn := t.conn
	c := s.newConn()
	c.ws = t
	// The open packet goes out before the handler can send anything.
	open := newControl(PacketOpen, s.openPacket(c.id, []string{}))
	if _, err := conn.Write(open.ws); err != nil || !c.start(r) {
		_ = conn.Close()
		return
	}
	// Reading happens off the HTTP handler's goroutine, so the server's connection state (and its buffers)
	// can be freed.
	t.startReading(c)
}

// upgrade handles a WebSocket that joins an existing polling session: probe, then switch.
func (s *Server) upgrade(c *Conn, w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	busy := c.ws != nil || c.probe != nil || c.state != stateOpen
	c.mu.Unlock()
	t := s.acceptWebSocket(w, r)
	if t == nil {
		return
	}
	conn := t.conn
	c.mu.Lock()
	if busy || c.ws != nil || c.probe != nil || c.state != stateOpen {
		// Already upgraded (or upgrading): this WebSocket is refused with a close frame, as the Node.js server does.
		c.mu.Unlock()
		_, _ = conn.Write(wsControlFrame(opClose, ws.NewCloseFrameBody(ws.StatusPolicyViolation, "")))
		_ = conn.Close()
		return
	}
	c.probe = t
	c.mu.Unlock()
	s.sched.After(s.cfg.UpgradeTimeout, func() {
		c.mu.Lock()
		if c.probe == t {
			c.probe = nil
			c.upgrading = false
			t.closing = true
			t.shutdown(c)
		}
		c.mu.Unlock()
	})
	t.probing = true
	t.startReading(c)
}

// switchToWebSocket completes the upgrade: later frames go to the WebSocket, queued ones first.
func (c *Conn) switchToWebSocket(t *wsTransport) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probe != t || c.state != stateOpen {
		return false
	}
	c.probe, c.upgrading, c.ws = nil, false, t
	c.poll.endLocked()
	queue := c.queue
	c.queue, c.queued = nil, 0
	for _, f := range queue {
		t.writeLocked(c, f.ws)
	}
	return true
}

// prefixReader reads the bytes it holds, then the connection.
type prefixReader struct {
	prefix []byte
	conn   net.Conn
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.conn.Read(b)
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// startReading hands the connection to the server's poller, or, where there is none (not Linux, or not a
// plain socket), to a reader goroutine of its own.
func (t *wsTransport) startReading(c *Conn) {
	t.pr = prefixReader{prefix: t.leftover, conn: t.conn}
	t.leftover = nil
	p := c.srv.poller
	if p == nil || t.raw == nil {
		go t.readLoop(c)
		return
	}
	if len(t.pr.prefix) > 0 {
		// Bytes already read with the upgrade request: handle them first, then wait on the poller.
		go t.onReadable(c, p)
		return
	}
	if err := p.add(t, c); err != nil {
		go t.readLoop(c)
	}
}

// onReadable runs on a goroutine of its own when the poller sees data: it handles every frame that has
// arrived, then goes back to the poller. Between bursts the connection has no goroutine and no buffer.
func (t *wsTransport) onReadable(c *Conn, p *poller) {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(&t.pr)
	ok := t.readFrames(c, br)
	br.Reset(nil)
	readerPool.Put(br)
	if !ok {
		t.end(c)
		return
	}
	if err := p.arm(t, c); err != nil {
		t.end(c)
	}
}

// readLoop is the reader goroutine of a connection the poller does not watch. While idle it parks on a
// one-byte read, so it holds no read buffer.
func (t *wsTransport) readLoop(c *Conn) {
	defer t.end(c)
	var one [1]byte
	for {
		if len(t.pr.prefix) == 0 {
			if _, err := io.ReadFull(t.conn, one[:]); err != nil {
				return
			}
			t.pr.prefix = one[:]
		}
		br := readerPool.Get().(*bufio.Reader)
		br.Reset(&t.pr)
		ok := t.readFrames(c, br)
		br.Reset(nil)
		readerPool.Put(br)
		if !ok {
			return
		}
	}
}

// readFrames handles frames until br has nothing buffered. False when the connection is done.
func (t *wsTransport) readFrames(c *Conn, br *bufio.Reader) bool {
	for {
		h, payload, err := readFrame(br, c.srv.cfg.MaxPayload)
		if err != nil {
			if errors.Is(err, errProtocol) || errors.Is(err, errTooBig) {
				t.protocolClose(c, err)
			}
			return false
		}
		switch h.OpCode {
		case ws.OpClose:
			c.mu.Lock()
			if !t.closing {
				t.closeLocked(c)
			}
			c.mu.Unlock()
			return false
		case ws.OpPing:
			c.mu.Lock()
			if c.ws == t || c.probe == t {
				t.writeLocked(c, wsControlFrame(opPong, payload))
			}
			c.mu.Unlock()
		case ws.OpPong:
		default:
			if h.OpCode != ws.OpContinuation {
				if t.msg != nil {
					t.protocolClose(c, errProtocol)
					return false
				}
				t.msgBinary = h.OpCode == ws.OpBinary
			} else if t.msg == nil {
				t.protocolClose(c, errProtocol)
				return false
			}
			if !h.Fin || t.msg != nil {
				if len(t.msg)+len(payload) > c.srv.cfg.MaxPayload {
					t.protocolClose(c, errTooBig)
					return false
				}
				t.msg = append(t.msg, payload...)
				if !h.Fin {
					break
				}
				payload, t.msg = t.msg, nil
			}
			if !t.msgBinary && !utf8.Valid(payload) {
				t.protocolClose(c, errProtocol)
				return false
			}
			if t.probing {
				if !t.onProbePacket(c, payload, t.msgBinary) {
					return false
				}
			} else if err := c.onPacket(payload, t.msgBinary); err != nil {
				c.mu.Lock()
				t.reason = "parse error"
				c.mu.Unlock()
				return false
			}
		}
		if br.Buffered() == 0 {
			return true
		}
	}
}

// endTransports ends the session's WebSocket transports at once (server shutdown).
func (c *Conn) endTransports() {
	c.mu.Lock()
	ts := []*wsTransport{c.ws, c.probe}
	c.mu.Unlock()
	for _, t := range ts {
		if t != nil {
			t.end(c)
		}
	}
}

// end releases the connection once: off the poller, socket closed, and the session closed if this was its
// transport (a failed probe leaves the polling session alone).
func (t *wsTransport) end(c *Conn) {
	if p := c.srv.poller; p != nil {
		p.remove(t)
	}
	c.mu.Lock()
	if t.ended {
		c.mu.Unlock()
		return
	}
	t.ended = true
	if c.probe == t {
		c.probe, c.upgrading = nil, false
	}
	isMain := c.ws == t
	reason := t.reason
	c.mu.Unlock()
	_ = t.conn.Close()
	if isMain {
		if reason == "" {
			reason = "transport close"
		}
		c.close(reason, false)
	}
}

// onProbePacket handles the upgrade handshake on a probing WebSocket: "2probe" → "3probe", then "5" switches.
// False ends the probe.
func (t *wsTransport) onProbePacket(c *Conn, data []byte, binary bool) bool {
	switch {
	case !binary && string(data) == "2probe":
		c.mu.Lock()
		if c.probe == t {
			t.writeLocked(c, frameProbe.ws)
			c.upgrading = true
			c.poll.wakeLocked() // a waiting poll answers noop so the client can pause polling
		}
		c.mu.Unlock()
		return true
	case !binary && string(data) == "5":
		c.mu.Lock()
		probed := c.upgrading
		c.mu.Unlock()
		if !probed || !c.switchToWebSocket(t) {
			return false
		}
		t.probing = false
		return true
	default:
		return false
	}
}

// protocolClose answers a WebSocket protocol violation with the matching close code.
func (t *wsTransport) protocolClose(c *Conn, err error) {
	code := ws.StatusProtocolError
	if errors.Is(err, errTooBig) {
		code = ws.StatusMessageTooBig
	}
	c.mu.Lock()
	t.reason = "parse error"
	// Not while the writer goroutine is writing: the write would wait for it (up to WriteTimeout) while holding
	// mu, and every Send to this connection (a broadcast's loop) would wait too. The connection ends anyway.
	if !t.closing && !t.broken && !t.flushing {
		_, _ = t.tryWrite(wsControlFrame(opClose, ws.NewCloseFrameBody(code, "")))
	}
	c.mu.Unlock()
}

var (
	errProtocol = errors.New("websocket: protocol error")
	errTooBig   = errors.New("websocket: message too big")
)

// readFrame reads one client frame and unmasks it. Client frames must be masked, without extensions;
// control frames must be short and final.
func readFrame(br *bufio.Reader, limit int) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(br)
	if err != nil {
		return h, nil, err
	}
	if !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved() {
		return h, nil, errProtocol
	}
	if h.OpCode.IsControl() && (h.Length > 125 || !h.Fin) {
		return h, nil, errProtocol
	}
	if h.Length > int64(limit) {
		return h, nil, errTooBig
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(br, payload); err != nil {
		return h, nil, err
	}
	ws.Cipher(payload, h.Mask, 0)
	return h, payload, nil
}
