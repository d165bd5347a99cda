package engineio

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

type connState uint8

const (
	stateOpen connState = iota
	stateClosed
)

// Conn is one Engine.IO session. Send may be called from any goroutine; frames reach the client in the order
// Send was called.
type Conn struct {
	srv *Server
	id  string

	// Data is the handler's state for this connection; set it in OnOpen.
	Data any

	dispatch     sync.Mutex // one OnMessage at a time
	awaitingPong atomic.Bool
	pongDeadline atomic.Int64 // unix nanoseconds

	mu        sync.Mutex
	state     connState
	ws        *wsTransport // the WebSocket, once the session uses one
	probe     *wsTransport // a WebSocket being probed for the upgrade
	upgrading bool         // the probe answered; polling requests get noop until the switch
	poll      pollState
	queue     []*Frame // long-polling: frames waiting for the next GET
	queued    int      // their size
}

// ID is the session id.
func (c *Conn) ID() string { return c.id }

// Transport is "websocket" or "polling".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		return "websocket"
	}
	return "polling"
}

func (s *Server) newConn() *Conn {
	return &Conn{srv: s, id: NewID()}
}

// start registers the session, tells the handler and starts the heartbeat. False when the server is closing.
func (c *Conn) start(r *http.Request) bool {
	if !c.srv.register(c) {
		return false
	}
	c.srv.handler.OnOpen(c, r)
	first := time.Now().Add(c.srv.cfg.PingInterval)
	c.srv.sched.At(first, func() { c.sendPing(first) })
	return true
}

// Send queues a frame for the client. Frames sent after the session closed are dropped.
func (c *Conn) Send(f *Frame) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	overflow := false
	if c.ws != nil {
		overflow = c.ws.writeLocked(c, f.ws)
	} else {
		c.queue = append(c.queue, f)
		c.queued += len(f.ws)
		overflow = c.queued > c.srv.cfg.WriteQueueLimit
		c.poll.wakeLocked()
	}
	c.mu.Unlock()
	if overflow {
		c.srv.log.Warn("socket closed: client too slow, write queue over the limit", "sid", c.id, "limit", c.srv.cfg.WriteQueueLimit)
		go c.Close("transport error")
	}
}

// Close ends the session from the server side; the handler's OnClose gets reason. Frames already sent are
// written first.
func (c *Conn) Close(reason string) { c.close(reason, false) }

// close ends the session once. byClient: the client asked (its close packet), so a waiting poll gets noop.
func (c *Conn) close(reason string, byClient bool) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	if c.ws != nil {
		c.ws.closeLocked(c)
	}
	if c.probe != nil {
		c.probe.closeLocked(c)
	}
	c.poll.closeLocked(byClient)
	// A client that closes over long-polling may have its last poll on the way: that poll gets noop rather
	// than "unknown session", so the session stays listed (closed) until it comes or for a moment.
	linger := byClient && c.ws == nil && !c.poll.waiting
	c.mu.Unlock()
	if linger {
		c.srv.sched.After(time.Second, func() { c.srv.unregister(c) })
	} else {
		c.srv.unregister(c)
	}
	c.srv.handler.OnClose(c, reason)
}

// Closed tells whether the session has ended.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateClosed
}

// onPacket handles one incoming text packet or binary message. An error closes the session.
func (c *Conn) onPacket(data []byte, binary bool) error {
	if binary {
		c.deliver(data, true)
		return nil
	}
	if len(data) == 0 {
		return errParse
	}
	switch data[0] {
	case PacketMessage:
		c.deliver(data[1:], false)
	case PacketPong:
		c.awaitingPong.Store(false)
	case PacketClose:
		c.close("transport close", true)
	case PacketPing, PacketNoop:
		// Clients of protocol 4 do not ping outside the upgrade probe; nothing to do.
	default:
		return errParse
	}
	return nil
}

func (c *Conn) deliver(data []byte, binary bool) {
	c.dispatch.Lock()
	defer c.dispatch.Unlock()
	if c.Closed() {
		return
	}
	c.srv.handler.OnMessage(c, data, binary)
}

// Heartbeat, on the shared scheduler: a ping every PingInterval; a pong must come within PingTimeout.
// awaitingPong is set before the ping is written, so a fast pong can never be missed. Times are computed from
// the previous due time, not from when the scheduler got to it, so lateness does not add up.
func (c *Conn) sendPing(due time.Time) {
	if c.Closed() {
		return
	}
	deadline := due.Add(c.srv.cfg.PingTimeout)
	c.pongDeadline.Store(deadline.UnixNano())
	c.awaitingPong.Store(true)
	c.Send(framePing)
	c.srv.sched.At(deadline, func() { c.checkPong(due) })
}

func (c *Conn) checkPong(pinged time.Time) {
	if c.Closed() {
		return
	}
	if c.awaitingPong.Load() {
		go c.Close("ping timeout")
		return
	}
	next := pinged.Add(c.srv.cfg.PingInterval)
	if now := time.Now(); next.Before(now) {
		next = now
	}
	c.srv.sched.At(next, func() { c.sendPing(next) })
}

// pongOverdue closes a session whose pong deadline has passed although the scheduler has not got to it yet,
// so a request arriving just after the deadline is not served.
func (c *Conn) pongOverdue() bool {
	if c.awaitingPong.Load() && time.Now().UnixNano() >= c.pongDeadline.Load() {
		c.Close("ping timeout")
		return true
	}
	return false
}
