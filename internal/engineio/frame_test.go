package engineio

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The WebSocket bytes of a frame are complete server frames (unmasked, final) that a WebSocket reader parses back
// into the packets; the long-polling form carries the same packets.
func TestFrameEncodings(t *testing.T) {
	for _, n := range []int{0, 1, 124, 125, 126, 127, 0xffff - 1, 0xffff, 0x10000, 70_000} {
		text := bytes.Repeat([]byte("t"), n)
		att := bytes.Repeat([]byte{0xab}, n)
		f := NewMessage(text, att, nil)
		br := bufio.NewReader(bytes.NewReader(f.ws))
		var got []ws.Frame
		for {
			fr, err := ws.ReadFrame(br)
			if err != nil {
				break
			}
			got = append(got, fr)
		}
		if len(got) != 3 {
			t.Fatalf("n=%d: %d frames", n, len(got))
		}
		if h := got[0].Header; !h.Fin || h.Masked || h.OpCode != ws.OpText || string(got[0].Payload) != "4"+string(text) {
			t.Errorf("n=%d: text frame %+v", n, h)
		}
		if h := got[1].Header; !h.Fin || h.OpCode != ws.OpBinary || !bytes.Equal(got[1].Payload, att) {
			t.Errorf("n=%d: attachment frame %+v", n, h)
		}
		if h := got[2].Header; h.OpCode != ws.OpBinary || len(got[2].Payload) != 0 {
			t.Errorf("n=%d: empty attachment frame %+v", n, h)
		}
		if f.Size() != len(f.ws) || f.Size() != cap(f.ws) {
			t.Errorf("n=%d: size %d, len %d, cap %d (one exact allocation expected)", n, f.Size(), len(f.ws), cap(f.ws))
		}
		want := "4" + string(text) + "\x1eb" + base64.StdEncoding.EncodeToString(att) + "\x1eb"
		if got := string(f.pollBytes()); got != want {
			t.Errorf("n=%d: polling form %.40q…", n, got)
		}
		if packets, err := decodePayload(f.pollBytes()); err != nil || len(packets) != 3 {
			t.Errorf("n=%d: polling form does not decode: %v", n, err)
		}
	}
	if got := string(NewBinary([]byte{1, 2}).pollBytes()); got != "bAQI=" {
		t.Errorf("binary polling form %q", got)
	}
	for f, want := range map[*Frame]string{framePing: "2", framePong: "3", frameNoop: "6", frameClose: "1", frameProbe: "3probe"} {
		if got := string(f.pollBytes()); got != want {
			t.Errorf("control frame %q, want %q", got, want)
		}
	}
}

// pollBytes is computed once, also when many pollers ask at the same time.
func TestFramePollBytesConcurrent(t *testing.T) {
	f := NewMessage([]byte("x"), []byte{1})
	var wg sync.WaitGroup
	res := make([][]byte, 8)
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = f.pollBytes() }()
	}
	wg.Wait()
	for _, r := range res {
		if &r[0] != &res[0][0] {
			t.Fatal("polling form built more than once")
		}
	}
}

func TestHeaderHasToken(t *testing.T) {
	for v, want := range map[string]bool{"websocket": true, "WebSocket": true, "h2c, websocket": true, " websocket ,x": true,
		"": false, "websockets": false, "h2c": false} {
		if got := headerHasToken(v, "websocket"); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID()
		if len(id) != 20 || seen[id] {
			t.Fatalf("id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// --- scheduler --------------------------------------------------------------------------------------------------

func TestSchedulerOrder(t *testing.T) {
	s := NewScheduler()
	defer s.Close()
	var mu sync.Mutex
	var got []int
	done := make(chan struct{})
	record := func(i int) func() {
		return func() {
			mu.Lock()
			got = append(got, i)
			n := len(got)
			mu.Unlock()
			if n == 5 {
				close(done)
			}
		}
	}
	now := time.Now()
	s.At(now.Add(80*time.Millisecond), record(4))
	s.At(now.Add(40*time.Millisecond), record(2))
	s.At(now.Add(-time.Second), record(0)) // in the past: runs at once
	s.After(60*time.Millisecond, record(3))
	s.At(now.Add(20*time.Millisecond), record(1))
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("callbacks did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("order %v", got)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len %d", s.Len())
	}
}

func TestSchedulerCloseDropsPending(t *testing.T) {
	s := NewScheduler()
	ran := make(chan struct{}, 1)
	s.After(time.Hour, func() { ran <- struct{}{} })
	s.After(time.Hour, func() { ran <- struct{}{} })
	if s.Len() != 2 {
		t.Errorf("Len %d", s.Len())
	}
	s.Close()
	s.Close() // twice is fine
	select {
	case <-ran:
		t.Error("a pending callback ran")
	default:
	}
}

// A callback may schedule others (heartbeats do).
func TestSchedulerReentrant(t *testing.T) {
	s := NewScheduler()
	defer s.Close()
	done := make(chan int, 1)
	var step func(i int)
	step = func(i int) {
		if i == 10 {
			done <- i
			return
		}
		s.After(time.Millisecond, func() { step(i + 1) })
	}
	s.After(0, func() { step(0) })
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatal("chain did not finish")
	}
}
