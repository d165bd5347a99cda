package httpserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h behind New(cfg) on a loopback port.
func serve(t *testing.T, h http.Handler, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, cfg)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readsUntilClosed reads c until the server closes it or limit passes; it returns how long that took, and
// everything read.
func readsUntilClosed(t *testing.T, c net.Conn, limit time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v; read %q", limit, b)
	}
	return time.Since(start), string(b)
}

func readAll(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "got %d bytes", len(b))
}

func TestATrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(readAll), Config{BodyTimeout: 400 * time.Millisecond, WriteTimeout: 5 * time.Second})
	c := dial(t, addr)
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 100 ms: 10 s for the whole body
		for i := 0; i < 100; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	took, got := readsUntilClosed(t, c, 5*time.Second)
	if took > 2*time.Second || !strings.Contains(got, "400") || !strings.Contains(got, "timeout") {
		t.Fatalf("after %v: %q", took, got)
	}

	// A body that arrives in time is read whole.
	res, err := http.Post("http://"+addr+"/x", "text/plain", strings.NewReader(strings.Repeat("y", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "got 5000 bytes" {
		t.Fatalf("normal body: %d %q", res.StatusCode, b)
	}
}

func TestAnIdleKeepAliveIsClosed(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(readAll), Config{IdleTimeout: 300 * time.Millisecond, WriteTimeout: 5 * time.Second})
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(c)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(3 * time.Second))
	_, err = r.ReadByte()
	if !errors.Is(err, io.EOF) || time.Since(start) > 2*time.Second {
		t.Fatalf("idle connection: err=%v after %v", err, time.Since(start))
	}
}

func TestSizeLimits(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(readAll), Config{WriteTimeout: 5 * time.Second, MaxBodyBytes: 1000})
	// A declared body over the limit is refused before it is sent.
	c := dial(t, addr)
	start := time.Now()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != http.StatusRequestEntityTooLarge || time.Since(start) > time.Second {
		t.Fatalf("declared large body: %v %v", res, err)
	}
	// A chunked body (no length) is cut at the limit.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("z", 3000)))
		_ = pw.Close()
	}()
	res, err = http.Post("http://"+addr+"/x", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "too large") {
		t.Fatalf("chunked large body: %d %q", res.StatusCode, b)
	}
	// Headers are bounded too (64 KiB by default; net/http allows 4 KiB of slack).
	req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 100<<10))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB header: %d", res.StatusCode)
	}
}

// A long-poll waits longer than the body timeout; a handler still working after its body was read is not
// cancelled when the body timeout passes.
func TestWaitingRequestsOutliveTheBodyTimeout(t *testing.T) {
	t.Parallel()
	cancelled := make(chan bool, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-time.After(800 * time.Millisecond):
			cancelled <- false
			_, _ = io.WriteString(w, "done")
		case <-r.Context().Done():
			cancelled <- true
		}
	})
	addr := serve(t, h, Config{BodyTimeout: 200 * time.Millisecond, WriteTimeout: 5 * time.Second})
	for _, method := range []string{"GET", "POST"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("payload")
		}
		req, _ := http.NewRequest(method, "http://"+addr+"/poll", body)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "done" || <-cancelled {
			t.Fatalf("%s: %q", method, b)
		}
	}
}

// A client that stops reading an answer is cut at the write timeout instead of holding the handler forever.
func TestAClientThatDoesNotReadIsCut(t *testing.T) {
	t.Parallel()
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("w", 64<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	})
	addr := serve(t, h, Config{WriteTimeout: 500 * time.Millisecond})
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is still writing to a client that does not read")
	}
}

// A WebSocket upgrade gets no deadline: the hijacked connection lives past every timeout, even on a keep-alive
// connection whose previous request had a write deadline.
func TestUpgradesHaveNoDeadlines(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, err := brw.ReadString('\n') // the client speaks after every timeout has passed
		if err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
		_, _ = conn.Write([]byte("echo " + line))
	})
	addr := serve(t, h, Config{BodyTimeout: 200 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, IdleTimeout: 5 * time.Second})
	c := dial(t, addr)
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	res, err = http.ReadResponse(r, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	time.Sleep(time.Second)
	fmt.Fprintf(c, "hello\n")
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil || line != "echo hello\n" {
		t.Fatalf("after the timeouts: %q %v", line, err)
	}
}
