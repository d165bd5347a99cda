package engineio

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzDecodePayload: a long-polling POST body never panics the decoder; an accepted one holds one packet per
// record, each a known text packet type or binary data, and encodes back to a body that decodes to the same
// packets (the server's own encoding of message and binary packets included).
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		"4hello", "4hello\x1e4world", "bAQID", "b", "1", "2", "2probe", "3", "5", "6", "0{}",
		"4hello\x1ebAQID\x1e2\x1e4", "4\u00e9t\u00e9\x1ebAA==", "4[\"event\",{\"_placeholder\":true,\"num\":0}]\x1ebAQI=",
		"", "\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "b!!!", "bAQ", "bAQ=\n", "b\r\nAQID", "7", "/", "4\x00\xff",
		"bAQID\x1ebAQID\x1ebAQID", "b====",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := decodePayload(body)
		if err != nil {
			if packets != nil {
				t.Fatalf("error %v with packets", err)
			}
			return
		}
		if len(packets) != bytes.Count(body, []byte{recordSeparator})+1 {
			t.Fatalf("%d packets from %d records", len(packets), bytes.Count(body, []byte{recordSeparator})+1)
		}
		var enc []byte
		for i, p := range packets {
			if i > 0 {
				enc = append(enc, recordSeparator)
			}
			if p.binary {
				enc = append(enc, 'b')
				enc = base64.StdEncoding.AppendEncode(enc, p.data)
				if got := NewBinary(p.data).pollBytes(); !bytes.Equal(got, enc[len(enc)-len(got):]) {
					t.Fatalf("NewBinary polling form %q", got)
				}
				continue
			}
			if len(p.data) == 0 || p.data[0] < PacketOpen || p.data[0] > PacketNoop {
				t.Fatalf("accepted text packet %q", p.data)
			}
			if bytes.IndexByte(p.data, recordSeparator) >= 0 {
				t.Fatalf("packet %q holds a separator", p.data)
			}
			enc = append(enc, p.data...)
			if p.data[0] == PacketMessage {
				if got := NewMessage(p.data[1:]).pollBytes(); !bytes.Equal(got, p.data) {
					t.Fatalf("NewMessage polling form %q, want %q", got, p.data)
				}
			}
		}
		again, err := decodePayload(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", enc, err)
		}
		if !samePackets(again, packets) {
			t.Fatalf("round trip: %s, then %s", fmtPackets(packets), fmtPackets(again))
		}
	})
}

// maskedFrame is a client frame (masked with a fixed key) for the seed corpus.
func maskedFrame(fin bool, op ws.OpCode, payload []byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	p := append([]byte(nil), payload...)
	ws.Cipher(p, h.Mask, 0)
	_ = ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

// FuzzReadFrame feeds arbitrary bytes to the WebSocket frame reader, frame after frame. It never panics and never
// allocates past the limit; a frame it accepts follows RFC 6455 as a client frame must (masked, no extension bits,
// known opcode, short final control frames), and written again with its header reads back the same.
func FuzzReadFrame(f *testing.F) {
	const limit = 4096
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	len64 := func(n uint64) []byte {
		b := []byte{0x81, 0x80 | 127}
		b = binary.BigEndian.AppendUint64(b, n)
		return append(b, 1, 2, 3, 4)
	}
	for _, s := range [][]byte{
		maskedFrame(true, ws.OpText, []byte("4hello")),
		maskedFrame(true, ws.OpBinary, []byte{0, 1, 2}),
		maskedFrame(true, ws.OpText, nil),
		maskedFrame(true, ws.OpPing, []byte("ping")),
		maskedFrame(true, ws.OpPong, nil),
		maskedFrame(true, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")),
		cat(maskedFrame(false, ws.OpText, []byte("4he")), maskedFrame(true, ws.OpPing, nil),
			maskedFrame(true, ws.OpContinuation, []byte("llo"))),
		maskedFrame(true, ws.OpText, bytes.Repeat([]byte("a"), 126)),
		maskedFrame(true, ws.OpText, bytes.Repeat([]byte("a"), 300)),
		maskedFrame(true, ws.OpText, bytes.Repeat([]byte("a"), limit+1)),
		maskedFrame(true, ws.OpPing, bytes.Repeat([]byte("a"), 126)),
		maskedFrame(false, ws.OpPing, nil),
		maskedFrame(true, ws.OpCode(3), nil),
		maskedFrame(true, ws.OpCode(0xb), nil),
		{0x81, 0x02, '4', 'a'},                          // unmasked
		{0xc1, 0x80, 0, 0, 0, 0},                        // RSV1
		{0x81, 0x80 | 126, 0x00, 0x05, 1, 2, 3, 4, 'a'}, // non-minimal 16-bit length, truncated payload
		len64(5),           // non-minimal 64-bit length, no payload
		len64(1 << 62),     // huge
		len64(1 << 63),     // most significant bit set
		{0x81},             // truncated header
		{0x81, 0xfe, 0x01}, // truncated extended length
		{},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for i := 0; i < 256; i++ {
			h, payload, err := readFrame(br, limit)
			if err != nil {
				switch {
				case errors.Is(err, errTooBig):
					if h.Length <= limit {
						t.Fatalf("too big at %d bytes", h.Length)
					}
				case errors.Is(err, errProtocol):
					if h.Masked && h.Rsv == 0 && !h.OpCode.IsReserved() && (!h.OpCode.IsControl() || (h.Fin && h.Length <= 125)) {
						t.Fatalf("protocol error on a valid header %+v", h)
					}
				case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
					errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, ws.ErrHeaderLengthUnexpected):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				if payload != nil {
					t.Fatal("payload with an error")
				}
				return
			}
			if !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved() {
				t.Fatalf("accepted header %+v", h)
			}
			if h.OpCode.IsControl() && (!h.Fin || h.Length > 125) {
				t.Fatalf("accepted control frame %+v", h)
			}
			if int64(len(payload)) != h.Length || h.Length > limit {
				t.Fatalf("payload of %d bytes for header length %d", len(payload), h.Length)
			}
			// Round trip: the same header and the payload masked again read back identically.
			var buf bytes.Buffer
			if err := ws.WriteHeader(&buf, h); err != nil {
				t.Fatal(err)
			}
			masked := append([]byte(nil), payload...)
			ws.Cipher(masked, h.Mask, 0)
			buf.Write(masked)
			h2, p2, err := readFrame(bufio.NewReader(&buf), limit)
			if err != nil || h2 != h || !bytes.Equal(p2, payload) {
				t.Fatalf("round trip: %+v %q, then %+v %q (%v)", h, payload, h2, p2, err)
			}
		}
	})
}
