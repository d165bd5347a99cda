package socketio

import (
	"context"
	"fmt"
	"io"
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

// BenchmarkBroadcast: N sockets over real loopback WebSockets in one room; one op is one Emit to the room, and it
// counts once every member has read the frame. The clients read raw bytes into a buffer and discard them (no frame
// parsing), so the figures are the server's fan-out: ns/delivery and allocs/delivery are per recipient.
//
//	go test -run '^$' -bench BenchmarkBroadcast -benchtime 2s ./internal/socketio/
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) { benchBroadcast(b, n) })
	}
}

type chatMessage struct {
	ID      string `json:"id"`
	Channel string `json:"channelId"`
	Author  string `json:"authorId"`
	Text    string `json:"content"`
	Sent    int64  `json:"createdAt"`
}

func benchBroadcast(b *testing.B, n int) {
	// No heartbeats during the run; a queue limit no member reaches (the emit loop keeps a bounded window).
	io := New(Config{Engine: engineio.Config{PingInterval: time.Hour, PingTimeout: time.Hour, WriteQueueLimit: 256 << 20}}, quietLog)
	conns := connected(io.Of("/"))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer io.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	var total atomic.Int64 // bytes read by all clients
	var wg sync.WaitGroup
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
		wg.Wait()
	}()
	for i := 0; i < n; i++ {
		conn := benchClient(b, url)
		clients = append(clients, conn)
		recv(b, conns, "connection").Join("room")
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for {
				k, err := conn.Read(buf)
				total.Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	nsp := io.Of("/")
	msg := chatMessage{ID: "1234567890123456789", Channel: "987654321098765432", Author: "555555555555555555",
		Text: "Hello everyone, this is a chat message of a typical length.", Sent: 1767225600000}
	p, err := encodeEvent("/", -1, "message:new", []any{msg})
	if err != nil {
		b.Fatal(err)
	}
	frame := int64(engineio.NewMessage(p.Text).Size())
	perEmit := frame * int64(n)
	const window = 16 // emits in flight at most

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := nsp.To("room").Emit("message:new", msg); err != nil {
			b.Fatal(err)
		}
		if i >= window {
			waitBytes(b, &total, int64(i+1-window)*perEmit)
		}
	}
	waitBytes(b, &total, int64(b.N)*perEmit)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(frame), "bytes/frame")
	if got := total.Load(); got != int64(b.N)*perEmit {
		b.Fatalf("clients read %d bytes, want %d", got, int64(b.N)*perEmit)
	}
}

// waitBytes waits until the clients have read want bytes in all.
func waitBytes(b *testing.B, total *atomic.Int64, want int64) {
	deadline := time.Now().Add(time.Minute)
	for total.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("clients stuck at %d of %d bytes", total.Load(), want)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// benchClient opens a session, joins "/" and returns the raw connection, positioned after the CONNECT answer.
func benchClient(b *testing.B, url string) net.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	// Nothing but the open packet and the CONNECT answer comes before the broadcasts, and the Engine.IO reader
	// reads frames exactly (no read-ahead), so the raw connection is at a frame boundary afterwards.
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	if _, _, err := wsutil.ReadServerData(rw); err != nil { // open packet
		b.Fatal(err)
	}
	if err := wsutil.WriteClientText(conn, []byte("40")); err != nil {
		b.Fatal(err)
	}
	if data, _, err := wsutil.ReadServerData(rw); err != nil || !strings.HasPrefix(string(data), "40{") {
		b.Fatalf("CONNECT answer %q %v", data, err)
	}
	if br != nil && br.Buffered() > 0 {
		b.Fatal("bytes buffered past the CONNECT answer")
	}
	return conn
}
