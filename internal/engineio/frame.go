package engineio

import (
	"encoding/base64"
	"encoding/binary"
	"sync"
)

// Engine.IO v4 packet types (the first byte of a text packet).
const (
	PacketOpen    = '0'
	PacketClose   = '1'
	PacketPing    = '2'
	PacketPong    = '3'
	PacketMessage = '4'
	PacketUpgrade = '5'
	PacketNoop    = '6'
)

// Frame is an outgoing Engine.IO message (one packet, or a text packet followed by its binary attachments),
// encoded once and shareable: a broadcast builds one Frame and writes the same bytes to every member. The
// WebSocket bytes are built when the frame is made; the long-polling form only when a polling client needs it.
type Frame struct {
	ws []byte // complete WebSocket frames, ready to write

	parts    []part // kept for the long-polling encoding
	pollOnce sync.Once
	poll     []byte
}

type part struct {
	data   []byte // text: with the packet type byte; binary: raw
	binary bool
}

// Size is the number of bytes the frame takes on a WebSocket.
func (f *Frame) Size() int { return len(f.ws) }

// NewMessage builds a message frame: a text packet ("4" + text) followed by binary packets, one per attachment.
func NewMessage(text []byte, attachments ...[]byte) *Frame {
	n := textPartSize(text)
	for _, a := range attachments {
		n += binaryPartSize(a)
	}
	f := newFrame(n, 1+len(attachments))
	f.addText(PacketMessage, text)
	for _, a := range attachments {
		f.addBinary(a)
	}
	return f
}

// newControl builds a frame holding one text packet of the given type and payload (ping, pong, noop, open...).
func newControl(typ byte, payload []byte) *Frame {
	f := newFrame(textPartSize(payload), 1)
	f.addText(typ, payload)
	return f
}

// NewBinary builds a frame holding one binary message.
func NewBinary(data []byte) *Frame {
	f := newFrame(binaryPartSize(data), 1)
	f.addBinary(data)
	return f
}

// newFrame allocates the frame's bytes at their final size, so the parts can point into them.
func newFrame(size, parts int) *Frame {
	return &Frame{ws: make([]byte, 0, size), parts: make([]part, 0, parts)}
}

func textPartSize(payload []byte) int { return wsHeaderLen(len(payload)+1) + 1 + len(payload) }
func binaryPartSize(data []byte) int  { return wsHeaderLen(len(data)) + len(data) }

// addText appends a WebSocket text frame holding the packet typ + payload.
func (f *Frame) addText(typ byte, payload []byte) {
	f.ws = appendWSHeader(f.ws, opText, len(payload)+1)
	start := len(f.ws)
	f.ws = append(append(f.ws, typ), payload...)
	f.parts = append(f.parts, part{data: f.ws[start:]})
}

// addBinary appends a WebSocket binary frame holding data.
func (f *Frame) addBinary(data []byte) {
	f.ws = appendWSHeader(f.ws, opBinary, len(data))
	start := len(f.ws)
	f.ws = append(f.ws, data...)
	f.parts = append(f.parts, part{data: f.ws[start:], binary: true})
}

// Shared control frames.
var (
	framePing  = newControl(PacketPing, nil)
	framePong  = newControl(PacketPong, nil)
	frameNoop  = newControl(PacketNoop, nil)
	frameClose = newControl(PacketClose, nil)
	frameProbe = newControl(PacketPong, []byte("probe"))
)

// pollBytes is the frame's packets in the long-polling payload encoding (without separators between frames).
func (f *Frame) pollBytes() []byte {
	f.pollOnce.Do(func() {
		n := 0
		for _, p := range f.parts {
			if p.binary {
				n += 2 + base64.StdEncoding.EncodedLen(len(p.data))
			} else {
				n += 1 + len(p.data)
			}
		}
		b := make([]byte, 0, n)
		for i, p := range f.parts {
			if i > 0 {
				b = append(b, recordSeparator)
			}
			if p.binary {
				b = append(b, 'b')
				b = base64.StdEncoding.AppendEncode(b, p.data)
			} else {
				b = append(b, p.data...)
			}
		}
		f.poll = b
	})
	return f.poll
}

// recordSeparator separates packets in a long-polling payload.
const recordSeparator = 0x1e

// WebSocket opcodes the server writes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

func wsHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// appendWSHeader appends an unmasked, final frame header (servers never mask).
func appendWSHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// wsControlFrame builds a complete WebSocket control frame (close, pong) with its payload.
func wsControlFrame(op byte, payload []byte) []byte {
	b := appendWSHeader(make([]byte, 0, 2+len(payload)), op, len(payload))
	return append(b, payload...)
}
