// Package sioclient is a minimal Socket.IO v5 client over a WebSocket (Engine.IO v4), written for tests, the
// socket-level fuzzer and the soak: it connects with a token, emits events with or without acks, answers the
// server's pings, hands received events to a callback, and can write raw frames (the fuzzer's hostile ones).
// The official client is in internal/testenv/jsclient; this one is in Go so that latencies are measured without
// a bridge process and so that frames can be malformed on purpose.
package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Options of a connection.
type Options struct {
	// OnEvent gets every event the server sends (on the reading goroutine: keep it short).
	OnEvent func(name string, args []json.RawMessage)
	// Header is sent with the WebSocket handshake (an Origin, say).
	Header map[string]string
}

// ErrClosed is returned by emits on a closed connection.
var ErrClosed = errors.New("sioclient: connection closed")

// ConnectError is the server's refusal of the CONNECT (connect_error).
type ConnectError struct{ Body string }

func (e *ConnectError) Error() string { return "sioclient: connect refused: " + e.Body }

// Client is one connected socket.
type Client struct {
	conn net.Conn
	rd   io.Reader
	opts Options
	wmu  sync.Mutex

	SID string // the Socket.IO socket id

	mu      sync.Mutex
	acks    map[int64]chan json.RawMessage
	nextAck int64
	err     error
	done    chan struct{}
}

// WebSocketURL turns the server's base URL (http://host:port) into its Engine.IO WebSocket endpoint.
func WebSocketURL(base string) string {
	u := strings.TrimRight(base, "/")
	u = strings.Replace(strings.Replace(u, "https://", "wss://", 1), "http://", "ws://", 1)
	return u + "/socket.io/?EIO=4&transport=websocket"
}

// Dial opens a raw Engine.IO WebSocket session (the open packet is read) without joining the namespace:
// the fuzzer writes what it likes from there. Call Connect to join as a normal client.
func Dial(ctx context.Context, base string, opts Options) (*Client, error) {
	c, err := dialURL(ctx, WebSocketURL(base), opts)
	if err != nil {
		return nil, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	open, _, err := c.read()
	_ = c.conn.SetReadDeadline(time.Time{})
	if err != nil || len(open) == 0 || open[0] != '0' {
		c.conn.Close()
		return nil, fmt.Errorf("sioclient: no open packet (%q): %v", open, err)
	}
	return c, nil
}

// DialUpgrade opens the WebSocket of an upgrade for the long-polling session sid; nothing is read or written
// (the caller sends "2probe" and "5", or not).
func DialUpgrade(ctx context.Context, base, sid string, opts Options) (*Client, error) {
	return dialURL(ctx, WebSocketURL(base)+"&sid="+sid, opts)
}

// dialURL opens a WebSocket; a refused handshake is a ws.StatusError with the HTTP status.
func dialURL(ctx context.Context, u string, opts Options) (*Client, error) {
	d := ws.Dialer{Timeout: 10 * time.Second}
	if len(opts.Header) > 0 {
		h := ws.HandshakeHeaderHTTP{}
		for k, v := range opts.Header {
			h[k] = []string{v}
		}
		d.Header = h
	}
	conn, br, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, rd: conn, opts: opts, acks: map[int64]chan json.RawMessage{}, done: make(chan struct{})}
	if br != nil {
		c.rd = br
	}
	return c, nil
}

// Connect dials and joins the main namespace with {"token": token}; it returns once the server accepted.
func Connect(ctx context.Context, base, token string, opts Options) (*Client, error) {
	c, err := Dial(ctx, base, opts)
	if err != nil {
		return nil, err
	}
	auth, _ := json.Marshal(map[string]string{"token": token})
	if err := c.WriteText(append([]byte("40"), auth...)); err != nil {
		c.Close()
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetReadDeadline(deadline)
	for {
		data, op, err := c.read()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("sioclient: waiting for CONNECT: %w", err)
		}
		if op != ws.OpText {
			continue
		}
		s := string(data)
		switch {
		case s == "2":
			_ = c.WriteText([]byte("3"))
		case strings.HasPrefix(s, "40"):
			var ans struct{ SID string }
			_ = json.Unmarshal(data[2:], &ans)
			c.SID = ans.SID
			_ = c.conn.SetReadDeadline(time.Time{})
			go c.readLoop()
			return c, nil
		case strings.HasPrefix(s, "44"):
			c.Close()
			return nil, &ConnectError{Body: s[2:]}
		}
		// Anything else (an event before the CONNECT answer cannot happen: rooms are joined first) is ignored.
	}
}

// StartReading starts the reading goroutine on a raw session from Dial (pings answered, events and acks
// dispatched); Connect starts it itself.
func (c *Client) StartReading() { go c.readLoop() }

func (c *Client) read() ([]byte, ws.OpCode, error) {
	return wsutil.ReadServerData(struct {
		io.Reader
		io.Writer
	}{c.rd, writerFunc(c.writeRawLocked)})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (c *Client) writeRawLocked(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.Write(b)
}

func (c *Client) readLoop() {
	var err error
	defer func() { c.finish(err) }()
	for {
		var data []byte
		var op ws.OpCode
		data, op, err = c.read()
		if err != nil {
			return
		}
		if op != ws.OpText || len(data) == 0 {
			continue
		}
		switch data[0] {
		case '2':
			_ = c.WriteText([]byte("3"))
		case '1':
			err = io.EOF
			return
		case '4':
			c.onPacket(data[1:])
		}
	}
}

func (c *Client) onPacket(p []byte) {
	if len(p) == 0 {
		return
	}
	switch p[0] {
	case '2': // EVENT
		var arr []json.RawMessage
		if json.Unmarshal(p[1:], &arr) != nil || len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		if c.opts.OnEvent != nil {
			c.opts.OnEvent(name, arr[1:])
		}
	case '3': // ACK: 3<id>[args]
		i := 1
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		id, err := strconv.ParseInt(string(p[1:i]), 10, 64)
		if err != nil {
			return
		}
		var arr []json.RawMessage
		_ = json.Unmarshal(p[i:], &arr)
		var first json.RawMessage
		if len(arr) > 0 {
			first = arr[0]
		}
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- first
		}
	case '1': // DISCONNECT from the server
		c.conn.Close()
	}
}

func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		if c.err == nil {
			c.err = ErrClosed
		}
	}
	c.mu.Unlock()
	c.conn.Close()
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

// Done is closed when the connection ended (by either side).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection.
func (c *Client) Close() {
	_ = c.conn.SetDeadline(time.Now())
	c.conn.Close()
}

// WriteText writes one Engine.IO text packet as a WebSocket text frame.
func (c *Client) WriteText(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wsutil.WriteClientMessage(c.conn, ws.OpText, b)
}

// WriteBinary writes one binary WebSocket message (a Socket.IO attachment).
func (c *Client) WriteBinary(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wsutil.WriteClientMessage(c.conn, ws.OpBinary, b)
}

// WriteRaw writes bytes to the TCP connection as they are (malformed WebSocket frames).
func (c *Client) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// Emit sends an event without an ack.
func (c *Client) Emit(event string, args ...any) error {
	body, err := eventJSON(event, args)
	if err != nil {
		return err
	}
	return c.WriteText(append([]byte("42"), body...))
}

// EmitAck sends an event and waits for the server's ack; it returns the ack's first argument.
func (c *Client) EmitAck(ctx context.Context, event string, args ...any) (json.RawMessage, error) {
	body, err := eventJSON(event, args)
	if err != nil {
		return nil, err
	}
	return c.EmitRawAck(ctx, body)
}

// EmitRawAck sends an EVENT whose JSON array (["name", ...args]) is given as it is, asking for an ack.
func (c *Client) EmitRawAck(ctx context.Context, body []byte) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	pkt := strconv.AppendInt([]byte("42"), id, 10)
	if err := c.WriteText(append(pkt, body...)); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

func eventJSON(event string, args []any) ([]byte, error) {
	all := append([]any{event}, args...)
	return json.Marshal(all)
}

// ReadRaw reads the next WebSocket message as it comes (for a session from Dial before StartReading).
func (c *Client) ReadRaw(timeout time.Duration) ([]byte, ws.OpCode, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.conn.SetReadDeadline(time.Time{})
	return c.read()
}
