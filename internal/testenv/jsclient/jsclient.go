// Package jsclient lets Go integration tests drive real socket.io-client v4 connections (the official
// JavaScript client, in a Node process running tests/jsclient/bridge.mjs), so socket tests exercise the exact
// protocol browsers speak while assertions stay in Go.
package jsclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Message is one line from the bridge.
type Message struct {
	Type      string            `json:"type"`
	CID       string            `json:"cid"`
	Req       int64             `json:"req"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Message   string            `json:"message"`
	Data      json.RawMessage   `json:"data"`
	Reason    string            `json:"reason"`
	Transport string            `json:"transport"`
	Timeout   bool              `json:"timeout"`
	ID        string            `json:"id"`
}

// Bridge is one Node process hosting any number of clients.
type Bridge struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	wmu   sync.Mutex
	nextC atomic.Int64
	nextR atomic.Int64

	mu      sync.Mutex
	changed chan struct{}
	log     map[string][]Message // per client id, in arrival order
	acks    map[int64]Message
}

func bridgeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "tests", "jsclient")
}

// Start launches the bridge; it is stopped when the test ends.
func Start(t testing.TB) *Bridge {
	t.Helper()
	dir := bridgeDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s (make test runs npm ci there): %v", dir, err)
	}
	cmd := exec.Command("node", "bridge.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	b := &Bridge{t: t, cmd: cmd, stdin: stdin, changed: make(chan struct{}), log: map[string][]Message{}, acks: map[int64]Message{}}
	go b.read(stdout)
	t.Cleanup(func() {
		b.send(map[string]any{"op": "exit"})
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return b
}

func (b *Bridge) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		b.mu.Lock()
		if m.Type == "ack" {
			b.acks[m.Req] = m
		} else {
			b.log[m.CID] = append(b.log[m.CID], m)
		}
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
	}
}

func (b *Bridge) send(cmd map[string]any) {
	line, _ := json.Marshal(cmd)
	b.wmu.Lock()
	defer b.wmu.Unlock()
	_, _ = b.stdin.Write(append(line, '\n'))
}

// waitFor polls the state under the lock until cond returns true or the timeout passes.
func (b *Bridge) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		ok := cond()
		ch := b.changed
		b.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Options for Connect.
type Options struct {
	Transports   []string          // default ["websocket"]
	ExtraHeaders map[string]string // e.g. Origin (Node clients may set it)
	NoReconnect  bool
	Auth         map[string]any // more handshake auth fields besides the token (e.g. "status")
}

// Client is one socket.io-client connection.
type Client struct {
	b   *Bridge
	CID string
}

// Connect starts a client. Use WaitConnected or WaitConnectError to see how the handshake went.
func (b *Bridge) Connect(url, token string, opts Options) *Client {
	cid := "c" + strconv.FormatInt(b.nextC.Add(1), 10)
	cmd := map[string]any{"op": "connect", "cid": cid, "url": url, "reconnection": !opts.NoReconnect}
	auth := map[string]any{}
	for k, v := range opts.Auth {
		auth[k] = v
	}
	if token != "" {
		auth["token"] = token
	}
	if len(auth) > 0 {
		cmd["auth"] = auth
	}
	if len(opts.Transports) > 0 {
		cmd["transports"] = opts.Transports
	}
	if opts.ExtraHeaders != nil {
		cmd["extraHeaders"] = opts.ExtraHeaders
	}
	b.send(cmd)
	return &Client{b: b, CID: cid}
}

// WaitConnected waits for the n-th successful connect (1 = first) and returns its message.
func (c *Client) WaitConnected(n int, timeout time.Duration) (Message, error) {
	var got Message
	ok := c.b.waitFor(timeout, func() bool {
		i := 0
		for _, m := range c.b.log[c.CID] {
			if m.Type == "connected" {
				i++
				if i == n {
					got = m
					return true
				}
			}
		}
		return false
	})
	if !ok {
		return got, fmt.Errorf("client %s: no connect #%d within %v (log: %s)", c.CID, n, timeout, c.summary())
	}
	return got, nil
}

// WaitConnectError waits for a connect_error and returns it.
func (c *Client) WaitConnectError(timeout time.Duration) (Message, error) {
	var got Message
	ok := c.b.waitFor(timeout, func() bool {
		for _, m := range c.b.log[c.CID] {
			if m.Type == "connect_error" {
				got = m
				return true
			}
		}
		return false
	})
	if !ok {
		return got, fmt.Errorf("client %s: no connect_error within %v (log: %s)", c.CID, timeout, c.summary())
	}
	return got, nil
}

// WaitDisconnected waits for the n-th disconnect and returns its reason.
func (c *Client) WaitDisconnected(n int, timeout time.Duration) (string, error) {
	var reason string
	ok := c.b.waitFor(timeout, func() bool {
		i := 0
		for _, m := range c.b.log[c.CID] {
			if m.Type == "disconnected" {
				i++
				if i == n {
					reason = m.Reason
					return true
				}
			}
		}
		return false
	})
	if !ok {
		return "", fmt.Errorf("client %s: no disconnect #%d within %v (log: %s)", c.CID, n, timeout, c.summary())
	}
	return reason, nil
}

// Emit sends an event without an ack.
func (c *Client) Emit(event string, args ...any) {
	c.b.send(map[string]any{"op": "emit", "cid": c.CID, "event": event, "args": args})
}

// EmitAck sends an event and decodes the first ack argument into out (if non-nil).
func (c *Client) EmitAck(event string, payload any, out any, timeout time.Duration) error {
	req := c.b.nextR.Add(1)
	c.b.send(map[string]any{"op": "emit", "cid": c.CID, "event": event, "args": []any{payload}, "ack": true, "req": req,
		"timeoutMs": timeout.Milliseconds()})
	var m Message
	if !c.b.waitFor(timeout+2*time.Second, func() bool {
		var ok bool
		m, ok = c.b.acks[req]
		return ok
	}) {
		return fmt.Errorf("client %s: bridge lost the ack for %s", c.CID, event)
	}
	if m.Timeout {
		return fmt.Errorf("client %s: %s ack timed out after %v", c.CID, event, timeout)
	}
	if out != nil && len(m.Args) > 0 {
		return json.Unmarshal(m.Args[0], out)
	}
	return nil
}

// Events returns the first argument of every received event with this name, in arrival order.
func (c *Client) Events(event string) []json.RawMessage {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	var out []json.RawMessage
	for _, m := range c.b.log[c.CID] {
		if m.Type == "event" && m.Event == event && len(m.Args) > 0 {
			out = append(out, m.Args[0])
		}
	}
	return out
}

// Received returns every event received so far, in arrival order.
func (c *Client) Received() []Message {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	var out []Message
	for _, m := range c.b.log[c.CID] {
		if m.Type == "event" {
			out = append(out, m)
		}
	}
	return out
}

// WaitEvents waits until at least n events with this name arrived, and returns them all.
func (c *Client) WaitEvents(event string, n int, timeout time.Duration) ([]json.RawMessage, error) {
	c.b.waitFor(timeout, func() bool {
		k := 0
		for _, m := range c.b.log[c.CID] {
			if m.Type == "event" && m.Event == event {
				k++
			}
		}
		return k >= n
	})
	got := c.Events(event)
	if len(got) < n {
		return got, fmt.Errorf("client %s: %d of %d %q events within %v", c.CID, len(got), n, event, timeout)
	}
	return got, nil
}

// Disconnect closes the client (no automatic reconnect); Reconnect opens it again.
func (c *Client) Disconnect() { c.b.send(map[string]any{"op": "disconnect", "cid": c.CID}) }
func (c *Client) Reconnect()  { c.b.send(map[string]any{"op": "reconnect", "cid": c.CID}) }

func (c *Client) summary() string {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	s := ""
	for _, m := range c.b.log[c.CID] {
		s += m.Type
		if m.Message != "" {
			s += "(" + m.Message + ")"
		}
		s += " "
	}
	return s
}

// SendAck is the answer to message:send.
type SendAck struct {
	OK      bool `json:"ok"`
	Message struct {
		ID        string `json:"id"`
		ChannelID string `json:"channelId"`
		SenderID  string `json:"senderId"`
		Content   string `json:"content"`
		Nonce     string `json:"nonce"`
	} `json:"message"`
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

// SendRetrying emits message:send until it is acknowledged, retrying with the same nonce after a timeout or a
// retryable error (as the web app does), pause apart, at most attempts times. It returns the acknowledgement and
// the number of retries; an error if the send was refused for good or never acknowledged.
func (c *Client) SendRetrying(channelID, content, nonce string, attempts int, pause time.Duration) (SendAck, int, error) {
	var last error
	for attempt := 0; attempt < attempts; attempt++ {
		var a SendAck
		err := c.EmitAck("message:send", map[string]any{"channelId": channelID, "content": content, "nonce": nonce}, &a, 20*time.Second)
		switch {
		case err == nil && a.OK:
			return a, attempt, nil
		case err == nil && !a.Error.Retryable:
			return a, attempt, fmt.Errorf("%s: refused for good: %+v", nonce, a.Error)
		case err != nil:
			last = err
		default:
			last = fmt.Errorf("%s: %s", a.Error.Code, a.Error.Message)
		}
		time.Sleep(pause)
	}
	return SendAck{}, attempts, fmt.Errorf("%s: still failing after %d attempts: %v", nonce, attempts, last)
}
