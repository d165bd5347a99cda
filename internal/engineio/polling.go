package engineio

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"time"
)

// pollState is the long-polling side of a session, guarded by the Conn's mu.
type pollState struct {
	wake    chan struct{} // signals a waiting GET: frames queued, upgrade probe, or close
	waiting bool          // a GET is waiting
	posting bool          // a POST is being handled
	ended   bool          // upgraded to WebSocket: polling requests are refused
	// closeWith is what a waiting GET answers when the session closed: close from the server, noop when the
	// client closed it.
	closeWith *Frame
}

func (p *pollState) wakeLocked() {
	if p.wake == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pollState) endLocked() {
	p.ended = true
	p.wakeLocked()
}

func (p *pollState) closeLocked(byClient bool) {
	p.closeWith = frameClose
	if byClient {
		p.closeWith = frameNoop
	}
	p.wakeLocked()
}

// openPolling is a handshake over long-polling: the open packet is the answer.
func (s *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	c := s.newConn()
	c.poll.wake = make(chan struct{}, 1)
	if !c.start(r) {
		s.httpError(w, http.StatusServiceUnavailable, errBadRequest)
		return
	}
	writePoll(w, append([]byte{PacketOpen}, s.openPacket(c.id, []string{"websocket"})...))
}

func writePoll(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// servePoll answers a GET with the queued frames, waiting until there are some.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	if c.pongOverdue() {
		c.srv.httpError(w, http.StatusBadRequest, errSessionUnknown)
		return
	}
	c.mu.Lock()
	if c.state != stateOpen && c.poll.closeWith == frameNoop && !c.poll.waiting {
		// The lingering session of a client that closed it (see close): one last noop, then it is gone.
		c.poll.closeWith = nil
		c.mu.Unlock()
		c.srv.unregister(c)
		writePoll(w, frameNoop.pollBytes())
		return
	}
	// Two polls at once break the protocol: the session ends, the first poll gets the close packet.
	if !c.claimLocked(w, &c.poll.waiting) {
		return
	}
	// A poll that starts after the probe was answered: the client is about to switch. Give the switch a
	// moment, so this poll is refused like any after the upgrade rather than answered noop.
	if c.upgrading && len(c.queue) == 0 && !c.holdForSwitchLocked(w, 100*time.Millisecond) {
		return
	}
	duringProbe := c.probe != nil
	for len(c.queue) == 0 && !c.upgrading && !c.poll.ended && c.state == stateOpen {
		c.mu.Unlock()
		select {
		case <-c.poll.wake:
		case <-r.Context().Done():
			c.mu.Lock()
			c.poll.waiting = false
			c.mu.Unlock()
			c.Close("transport close")
			return
		}
		c.mu.Lock()
	}
	// A poll that started while the probe WebSocket was open and was woken by the probe's answer: the "5" that
	// completes the switch may already be on its way (a client can send "2probe" and "5" back to back, and the
	// two connections are read in no particular order), so wait a few milliseconds for it before releasing the
	// poll with a noop, which a client that waits for this poll before sending "5" then gets only that late.
	if duringProbe && c.upgrading && len(c.queue) == 0 && c.state == stateOpen && !c.holdForSwitchLocked(w, 5*time.Millisecond) {
		return
	}
	if c.poll.ended && c.state == stateOpen { // the switch happened while this poll waited
		c.refuseUpgradedPollLocked(w)
		return
	}
	var body []byte
	switch {
	case c.state != stateOpen:
		body = c.pollPayloadLocked(c.poll.closeWith)
	case len(c.queue) > 0:
		body = c.pollPayloadLocked(nil)
	default: // upgrading or upgraded: release the client's poll
		body = frameNoop.pollBytes()
	}
	c.poll.waiting = false
	c.mu.Unlock()
	writePoll(w, body)
}

// holdForSwitchLocked waits up to d for the upgrade to finish while the client is switching to the WebSocket.
// If it finished, the poll is refused with 400 (as every poll after an upgrade) and false is returned, with c.mu
// released; otherwise true, with c.mu held again.
func (c *Conn) holdForSwitchLocked(w http.ResponseWriter, d time.Duration) bool {
	c.mu.Unlock()
	timer := time.NewTimer(d)
	select {
	case <-c.poll.wake:
	case <-timer.C:
	}
	timer.Stop()
	c.mu.Lock()
	if c.poll.ended {
		c.refuseUpgradedPollLocked(w)
		return false
	}
	return true
}

// refuseUpgradedPollLocked answers a poll of a session that moved to the WebSocket with 400, releasing c.mu.
func (c *Conn) refuseUpgradedPollLocked(w http.ResponseWriter) {
	c.poll.waiting = false
	c.mu.Unlock()
	c.srv.httpError(w, http.StatusBadRequest, errBadRequest)
}

// pollPayloadLocked encodes and empties the queue, with a last frame appended when given.
func (c *Conn) pollPayloadLocked(last *Frame) []byte {
	n := 0
	for _, f := range c.queue {
		n += len(f.pollBytes()) + 1
	}
	if last != nil {
		n += len(last.pollBytes())
	}
	b := make([]byte, 0, n)
	for i, f := range c.queue {
		if i > 0 {
			b = append(b, recordSeparator)
		}
		b = append(b, f.pollBytes()...)
		c.queue[i] = nil
	}
	if last != nil {
		if len(c.queue) > 0 {
			b = append(b, recordSeparator)
		}
		b = append(b, last.pollBytes()...)
	}
	c.queue, c.queued = c.queue[:0], 0
	return b
}

// claimLocked starts a GET (busy: poll.waiting) or a POST (busy: poll.posting) and sets busy; mu stays held.
// It answers 400 and releases mu when the session no longer polls or already has a request of that kind, which
// ends the session.
func (c *Conn) claimLocked(w http.ResponseWriter, busy *bool) bool {
	if c.poll.ended || c.state != stateOpen {
		c.mu.Unlock()
		c.srv.httpError(w, http.StatusBadRequest, errBadRequest)
		return false
	}
	if *busy {
		c.mu.Unlock()
		c.srv.httpError(w, http.StatusBadRequest, errBadRequest)
		c.Close("transport error")
		return false
	}
	*busy = true
	return true
}

// servePost reads a payload of packets from the client.
func (c *Conn) servePost(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if !c.claimLocked(w, &c.poll.posting) {
		return
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.poll.posting = false
		c.mu.Unlock()
	}()

	limit := c.srv.cfg.MaxPayload
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		c.Close("transport error")
		return
	}
	if len(body) > limit {
		c.srv.httpError(w, http.StatusRequestEntityTooLarge, errBadRequest)
		c.Close("transport error")
		return
	}
	packets, err := decodePayload(body)
	if err != nil {
		c.srv.httpError(w, http.StatusBadRequest, errBadRequest)
		c.Close("parse error")
		return
	}
	for _, p := range packets {
		if err := c.onPacket(p.data, p.binary); err != nil {
			c.srv.httpError(w, http.StatusBadRequest, errBadRequest)
			c.Close("parse error")
			return
		}
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
}

type inPacket struct {
	data   []byte
	binary bool
}

// decodePayload splits a long-polling payload into packets: text packets as they are (type byte first),
// binary ones ("b" + base64) decoded.
func decodePayload(body []byte) ([]inPacket, error) {
	if len(body) == 0 {
		return nil, errParse
	}
	var out []inPacket
	for len(body) > 0 || out == nil {
		var p []byte
		if i := bytes.IndexByte(body, recordSeparator); i >= 0 {
			p, body = body[:i], body[i+1:]
			if len(body) == 0 {
				return nil, errParse // a trailing separator
			}
		} else {
			p, body = body, nil
		}
		if len(p) == 0 {
			return nil, errParse
		}
		if p[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(p)-1))
			n, err := base64.StdEncoding.Decode(data, p[1:])
			if err != nil {
				return nil, errParse
			}
			out = append(out, inPacket{data: data[:n], binary: true})
			continue
		}
		if p[0] < PacketOpen || p[0] > PacketNoop {
			return nil, errParse
		}
		out = append(out, inPacket{data: p})
	}
	return out, nil
}
