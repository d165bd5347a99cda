// Package rawsio is a Socket.IO client over a bare WebSocket for tests that need what no client library does:
// stop reading, or watch every frame in order.
package rawsio

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Socket is one connection, joined to the default namespace.
type Socket struct {
	Conn net.Conn
	rw   io.ReadWriter
	wmu  sync.Mutex // one writer at a time: a frame must not interleave with another
	// Early holds the frames that came before the namespace's answer (events to rooms the server put the
	// socket in while it was connecting; socket.io-client buffers them until "connect").
	Early []string
}

// Dial opens a WebSocket to baseURL (http://host:port), joins the default namespace with token and returns the
// socket and the namespace's answer ("40{...}" connected, "44{...}" refused). rcvbuf > 0 shrinks the client's
// kernel receive buffer, so a client that stops reading backs the server up sooner.
func Dial(t testing.TB, baseURL, token string, rcvbuf int) (*Socket, string) {
	t.Helper()
	d := ws.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				if err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				}); err != nil {
					return err
				}
				return serr
			}}
			return nd.DialContext(ctx, network, addr)
		}
	}
	url := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, br, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := io.Reader(conn)
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	s := &Socket{Conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
	if open := s.Read(t); !strings.HasPrefix(open, "0{") {
		t.Fatalf("engine.io open packet: %q", open)
	}
	auth, _ := json.Marshal(map[string]string{"token": token})
	s.Write(t, "40"+string(auth))
	for {
		f := s.Read(t)
		if strings.HasPrefix(f, "40") || strings.HasPrefix(f, "44") {
			return s, f
		}
		s.Early = append(s.Early, f)
	}
}

// Read returns the next text frame (within 10 s).
func (s *Socket) Read(t testing.TB) string {
	t.Helper()
	_ = s.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wsutil.ReadServerText(s.rw)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Next returns the next text frame, waiting as long as it takes (an error when the connection ends).
func (s *Socket) Next() (string, error) {
	_ = s.Conn.SetReadDeadline(time.Time{})
	b, err := wsutil.ReadServerText(s.rw)
	return string(b), err
}

// Write sends one text frame.
func (s *Socket) Write(t testing.TB, text string) {
	t.Helper()
	if err := s.Send(text); err != nil {
		t.Fatal(err)
	}
}

// Send sends one text frame; safe to call from several goroutines.
func (s *Socket) Send(text string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return wsutil.WriteClientText(s.Conn, []byte(text))
}

// ReadLoop reads until the connection ends, answering pings and counting the frames that start with prefix.
func (s *Socket) ReadLoop(prefix string, n *atomic.Int64) {
	_ = s.Conn.SetReadDeadline(time.Time{})
	for {
		b, err := wsutil.ReadServerText(s.rw)
		if err != nil {
			return
		}
		switch {
		case string(b) == "2":
			_ = s.Send("3")
		case strings.HasPrefix(string(b), prefix):
			n.Add(1)
		}
	}
}
