package engineio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzRecord is what one session delivered, recorded synchronously (servePost runs on the fuzz goroutine).
type fuzzRecord struct {
	msgs   []inPacket
	closed int
}

type fuzzHandler struct{}

func (fuzzHandler) OnOpen(c *Conn, _ *http.Request) { c.Data = &fuzzRecord{} }
func (fuzzHandler) OnMessage(c *Conn, data []byte, binary bool) {
	h := c.Data.(*fuzzRecord)
	h.msgs = append(h.msgs, inPacket{data: append([]byte(nil), data...), binary: binary})
}
func (fuzzHandler) OnClose(c *Conn, _ string) { c.Data.(*fuzzRecord).closed++ }

// FuzzPollingPost drives one long-polling session's POST handler (the path a browser's body takes through
// servePost, decodePayload and onPacket) with arbitrary bodies. Never a 5xx; an error answer is the protocol's
// JSON {code, message}; "ok" exactly when the body decodes and holds no packet a client may not send; the handler
// gets exactly the message packets (text and binary) in order, up to a close packet, which ends the session once.
func FuzzPollingPost(f *testing.F) {
	const limit = 512
	for _, s := range []string{
		"4hello", "4hello\x1e4world", "bAQID", "4a\x1ebAQID\x1e4b", "2", "3", "6", "2probe", "1", "4a\x1e1\x1e4b",
		"0", "5", "0{\"sid\":\"x\"}", "4[\"message:send\",{\"channelId\":\"1\"}]", "40{\"token\":\"t\"}",
		"", "\x1e", "4a\x1e", "b!!", "7", "4\x00\xff", strings.Repeat("4", limit+1), strings.Repeat("4a\x1e", 100) + "4",
	} {
		f.Add([]byte(s))
	}
	// One server for every input (a server per input costs an epoll instance and made fuzzing crawl).
	sched := NewScheduler()
	f.Cleanup(sched.Close)
	srv := New(Config{MaxPayload: limit, PingInterval: time.Hour}, fuzzHandler{}, sched, quietLog)
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := srv.newConn()
		c.poll.wake = make(chan struct{}, 1)
		if !c.start(httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport=polling", nil)) {
			t.Fatal("session did not start")
		}
		defer c.Close("fuzz input done")
		h := c.Data.(*fuzzRecord)
		w := httptest.NewRecorder()
		c.servePost(w, httptest.NewRequest(http.MethodPost, "/engine.io/?EIO=4&transport=polling&sid="+c.id, bytes.NewReader(body)))

		// What the body should do, from the decoder alone.
		var want []inPacket
		acceptable, closes := true, false
		packets, err := decodePayload(body)
		switch {
		case len(body) > limit, err != nil:
			acceptable = false
		default:
			for _, p := range packets {
				if p.binary {
					if !closes {
						want = append(want, p)
					}
					continue
				}
				switch p.data[0] {
				case PacketMessage:
					if !closes {
						want = append(want, inPacket{data: p.data[1:]})
					}
				case PacketClose:
					closes = true
				case PacketOpen, PacketUpgrade:
					acceptable = false // a client never sends these over polling
				}
				if !acceptable {
					break
				}
			}
		}

		if w.Code >= 500 {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if acceptable {
			if w.Code != http.StatusOK || w.Body.String() != "ok" {
				t.Fatalf("acceptable body %q: %d %q", body, w.Code, w.Body)
			}
			if !samePackets(h.msgs, want) {
				t.Fatalf("body %q delivered %s, want %s", body, fmtPackets(h.msgs), fmtPackets(want))
			}
			if closes != c.Closed() {
				t.Fatalf("body %q: closed %v, want %v", body, c.Closed(), closes)
			}
		} else {
			wantStatus := http.StatusBadRequest
			if len(body) > limit {
				wantStatus = http.StatusRequestEntityTooLarge
			}
			var e struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if w.Code != wantStatus || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code == nil || e.Message == "" {
				t.Fatalf("refused body %q: %d %q, want %d with {code, message}", body, w.Code, w.Body, wantStatus)
			}
			if !c.Closed() {
				t.Fatalf("refused body %q left the session open", body)
			}
			// The messages before the bad packet were delivered, nothing after it (nothing at all from a body
			// that does not decode).
			if !samePackets(h.msgs, want) {
				t.Fatalf("refused body %q delivered %s, want %s", body, fmtPackets(h.msgs), fmtPackets(want))
			}
		}
		if c.Closed() && h.closed != 1 {
			t.Fatalf("OnClose ran %d times", h.closed)
		}
	})
}
