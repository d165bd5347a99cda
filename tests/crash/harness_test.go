//go:build linux

package crash

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleRoot is the repository root (where go.mod is), found from this file's path.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildServer compiles ./cmd/server into dir (with -race when this test binary has it).
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "parley")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/server")...)
	cmd.Dir = moduleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// freeLoopbackPort returns a port nobody listens on, preferably below the kernel's ephemeral range (32768+),
// where other tests' `127.0.0.1:0` listeners and outgoing connections cannot take it between the kill and the
// restart.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	for range 50 {
		port := fmt.Sprint(20000 + rand.IntN(12000))
		if ln, err := net.Listen("tcp", "127.0.0.1:"+port); err == nil {
			ln.Close()
			return port
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// serverProc is the real server binary running as a child process; it can be started again with the same
// environment after it was killed.
type serverProc struct {
	bin, url, logPath string
	env               []string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's result, set before exited is closed
}

func (p *serverProc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "---- server start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies (e.g. -timeout), the server must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting the server: %v", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
}

// waitReady polls /readyz until it answers 200; it fails if the process exits first.
func (p *serverProc) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			t.Fatalf("the server exited before it was ready (%v); its output:\n%s", p.err, p.logTail())
		default:
		}
		if res, err := client.Get(p.url + "/readyz"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server was not ready within %v; its output:\n%s", timeout, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 sends SIGKILL and waits until the process is gone. If freeze > 0 the process is first stopped
// (SIGSTOP) for that long: writes it has already sent to Cassandra complete while it cannot answer their acks,
// which makes "stored but never acknowledged" a near certainty instead of a matter of luck. A kill -9 can land at
// exactly that moment anyway; the freeze only widens it.
func (p *serverProc) kill9(t *testing.T, freeze time.Duration) {
	t.Helper()
	if freeze > 0 {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP: %v", err)
		}
		time.Sleep(freeze)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not die within 10s of SIGKILL")
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the server ended with %v, not by SIGKILL", p.err)
	}
}

// stop ends the process if it still runs (test cleanup).
func (p *serverProc) stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

func (p *serverProc) logText() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *serverProc) logTail() string {
	s := p.logText()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}

// do sends a REST request with an optional bearer token and JSON body, and decodes a JSON answer into out.
func do(t *testing.T, base, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

// bridge drives the official socket.io-client through tests/jsclient/bridge.mjs (the Node process the
// internal/testenv/jsclient package uses). Unlike jsclient.Client.EmitAck, an emit returns at once and its ack
// is delivered to a channel, so a sender can keep a window of sends in flight while emitting them strictly in
// order. Other events are read and dropped.
type bridge struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	wmu   sync.Mutex

	mu      sync.Mutex
	nextReq int64
	nextCID int
	pending map[int64]pendingAck
	conns   map[string]int // successful connects per client
	lastErr map[string]string
	changed chan struct{}
}

type pendingAck struct {
	tag int
	out chan<- ackResult
}

// ackResult is what became of one emit: the server's ack argument, or failed (timed out, or the socket
// disconnected before the ack arrived).
type ackResult struct {
	tag    int
	failed bool
	arg    json.RawMessage
}

func startBridge(t *testing.T) *bridge {
	t.Helper()
	dir := filepath.Join(moduleRoot(), "tests", "jsclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s (make test runs npm ci there): %v", dir, err)
	}
	cmd := exec.Command("node", "bridge.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
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
	b := &bridge{t: t, cmd: cmd, stdin: stdin, pending: map[int64]pendingAck{}, conns: map[string]int{},
		lastErr: map[string]string{}, changed: make(chan struct{})}
	readDone := make(chan struct{})
	go func() { b.read(stdout); close(readDone) }()
	t.Cleanup(func() {
		b.write(map[string]any{"op": "exit"})
		select {
		case <-readDone:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	return b
}

func (b *bridge) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			Type    string            `json:"type"`
			CID     string            `json:"cid"`
			Req     int64             `json:"req"`
			Args    []json.RawMessage `json:"args"`
			Timeout bool              `json:"timeout"`
			Message string            `json:"message"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		b.mu.Lock()
		switch m.Type {
		case "ack", "error": // "error" with a req answers a barrier (an emit to a client that does not exist)
			if p, ok := b.pending[m.Req]; ok {
				delete(b.pending, m.Req)
				res := ackResult{tag: p.tag, failed: m.Type == "error" || m.Timeout}
				if len(m.Args) > 0 {
					res.arg = m.Args[0]
				}
				p.out <- res // buffered by the caller for every emit it has outstanding: never blocks
			}
		case "connected":
			b.conns[m.CID]++
		case "connect_error":
			b.lastErr[m.CID] = m.Message
		}
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
	}
}

func (b *bridge) write(cmd map[string]any) {
	line, _ := json.Marshal(cmd)
	b.wmu.Lock()
	defer b.wmu.Unlock()
	_, _ = b.stdin.Write(append(line, '\n'))
}

// connect opens a client (automatic reconnection on, as in the browser) and returns its id.
func (b *bridge) connect(url, token string) string {
	b.mu.Lock()
	b.nextCID++
	cid := fmt.Sprint("c", b.nextCID)
	b.mu.Unlock()
	b.write(map[string]any{"op": "connect", "cid": cid, "url": url, "auth": map[string]any{"token": token}})
	return cid
}

// waitConnected waits for the client's n-th successful connect.
func (b *bridge) waitConnected(cid string, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		got, ch, lastErr := b.conns[cid], b.changed, b.lastErr[cid]
		b.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("client %s: connect #%d not within %v (last connect_error: %q)", cid, n, timeout, lastErr)
		}
	}
}

// emitAck emits an event with an ack; the outcome goes to out, tagged.
func (b *bridge) emitAck(cid, event string, payload any, timeout time.Duration, tag int, out chan<- ackResult) {
	b.mu.Lock()
	b.nextReq++
	req := b.nextReq
	b.pending[req] = pendingAck{tag: tag, out: out}
	b.mu.Unlock()
	b.write(map[string]any{"op": "emit", "cid": cid, "event": event, "args": []any{payload}, "ack": true, "req": req,
		"timeoutMs": timeout.Milliseconds()})
}

// barrier returns once the bridge has handled every command written before it: every earlier emit has been
// handed to its socket. (The bridge answers an emit to an unknown client at once, in order, with an error.)
func (b *bridge) barrier(timeout time.Duration) error {
	out := make(chan ackResult, 1)
	b.emitAck("no-such-client", "barrier", nil, timeout, -1, out)
	select {
	case <-out:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the bridge did not answer a barrier within %v", timeout)
	}
}
