package sockfuzz

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// frame is one hostile thing to send: an Engine.IO text packet, a binary message, or raw bytes for the TCP
// connection (a malformed WebSocket frame). fatal marks frames after which the server is expected to (and
// may) close the connection, so they end a batch.
type frame struct {
	kind   string
	text   []byte
	bin    []byte
	raw    []byte
	fatal  bool
	wsOnly bool // cannot travel in a long-polling body (raw frames, WebSocket control frames)
}

// Targets are the ids a hostile payload may name, so that some frames reach deep into the handlers.
type Targets struct {
	Channels []string // channels the fuzzing accounts belong to
	Messages []string // messages stored in them
	Foreign  []string // a channel they do not belong to
}

type gen struct {
	r          *rand.Rand
	tg         Targets
	ack        int64
	maxPayload int
}

var clientEvents = []string{"message:send", "message:edit", "message:delete", "messages:sync", "typing:start",
	"typing:stop", "presence:set", "receipt:read", "message:delivered", "reaction:add", "reaction:remove"}

var fieldNames = []string{"channelId", "messageId", "content", "nonce", "replyTo", "channels", "status", "emoji"}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// id is an id-ish JSON value: a real one, or one that is out of range or of the wrong shape.
func (g *gen) id() string {
	switch g.r.IntN(4) {
	case 0:
		return strconv.Quote(g.pick(g.tg.Channels))
	case 1:
		if len(g.tg.Messages) > 0 {
			return strconv.Quote(g.pick(g.tg.Messages))
		}
	case 2:
		if len(g.tg.Foreign) > 0 {
			return strconv.Quote(g.pick(g.tg.Foreign))
		}
	}
	return g.pick([]string{`"-1"`, `"0"`, `"9223372036854775807"`, `"9223372036854775808"`, `"18446744073709551616"`,
		`" 1"`, `"1.5"`, `"0x10"`, `"+1"`, `"1e3"`, `""`, `1`, `-1`, `1.5`, `1e400`, `null`, `true`, `[]`, `{}`,
		`"٣"`, `"1\u0000"`, `"00000000000000000000000000001"`})
}

// value is any hostile JSON value.
func (g *gen) value(depth int) string {
	// Huge and deeply nested values are rare: every one costs the server (and the race detector) a lot, and a
	// few per session are enough to exercise the paths.
	switch n := g.r.IntN(200); {
	case n < 40:
		return g.id()
	case n < 60:
		return g.pick([]string{`null`, `true`, `false`, `0`, `-0`, `1e308`, `-1e-308`, `""`, `"x"`, `[]`, `{}`,
			`"\u202e\u0000\ud800"`, `"👍"`, `"<script>alert(1)</script>"`, `{"__proto__":{"admin":true}}`,
			`{"constructor":{"prototype":{}}}`, `"\n\t\r"`})
	case n < 62:
		return strconv.Quote(strings.Repeat(g.pick([]string{"a", "é", "👍", "\u202e", " "}), 1+g.r.IntN(12000)))
	case n < 64: // Go's decoder stops at depth 10,000 (the packet is then invalid: see fatal)
		d := 1 + g.r.IntN(9000)
		return strings.Repeat("[", d) + strings.Repeat("]", d)
	case n < 65:
		d := 1 + g.r.IntN(5000)
		return strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d)
	case n < 70:
		return strconv.Quote(strings.Repeat("x", 1+g.r.IntN(300)))
	case n < 110 && depth < 3:
		var b strings.Builder
		b.WriteByte('[')
		for i := range g.r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(g.value(depth + 1))
		}
		b.WriteByte(']')
		return b.String()
	case n < 140 && depth < 3:
		return g.object(depth + 1)
	default:
		return strconv.Quote(fmt.Sprintf("fz-%d", g.r.Int64()))
	}
}

// object is an event payload: the known fields (some real, some hostile), sometimes a thousand channels.
func (g *gen) object(depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	add := func(k, v string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		b.WriteString(v)
	}
	for _, f := range fieldNames {
		if g.r.IntN(10) >= 6 {
			continue
		}
		switch {
		case f == "channels" && g.r.IntN(3) == 0:
			n := 1 + g.r.IntN(20)
			if g.r.IntN(20) == 0 {
				n = 1 + g.r.IntN(1500) // the catch-up that names a thousand channels
			}
			var m strings.Builder
			m.WriteByte('{')
			for i := range n {
				if i > 0 {
					m.WriteByte(',')
				}
				fmt.Fprintf(&m, `"%d":"%d"`, 1+g.r.Int64N(1<<62), g.r.Int64N(1<<62))
			}
			m.WriteByte('}')
			add(f, m.String())
		case g.r.IntN(3) == 0:
			add(f, g.id())
		case f == "content" || f == "nonce" || f == "emoji" || f == "status":
			add(f, g.pick([]string{`"hello"`, `"online"`, `"👍"`, `" "`, `""`, strconv.Quote(fmt.Sprint("n", g.r.Int()))}))
		default:
			add(f, g.value(depth+1))
		}
	}
	if g.r.IntN(8) == 0 {
		add(g.pick([]string{"__proto__", "", "channelId", "x"}), g.value(depth+1)) // duplicate or odd keys
	}
	b.WriteByte('}')
	return b.String()
}

// ackID is how the client asks for an ack: not at all, normally, or with odd numbers.
func (g *gen) ackID() string {
	switch g.r.IntN(6) {
	case 0, 1:
		return ""
	case 2:
		return g.pick([]string{"0", "9223372036854775807", "0007", "1"})
	}
	g.ack++
	return strconv.FormatInt(g.ack, 10)
}

func (g *gen) eventName() string {
	if g.r.IntN(8) == 0 {
		return g.pick([]string{`"__proto__"`, `""`, `"constructor"`, `"connect"`, `"disconnect"`, `"message:send "`,
			`"MESSAGE:SEND"`, `42`, `-1`, strconv.Quote(strings.Repeat("x", 1+g.r.IntN(5000))), `"hasOwnProperty"`})
	}
	return strconv.Quote(g.pick(clientEvents))
}

// event is a Socket.IO EVENT in an Engine.IO message packet: a real or odd name, zero or more hostile arguments.
func (g *gen) event() frame {
	var b bytes.Buffer
	b.WriteString("42")
	if g.r.IntN(20) == 0 {
		b.WriteString("/other,") // a namespace the client never joined: ignored
	}
	b.WriteString(g.ackID())
	b.WriteByte('[')
	b.WriteString(g.eventName())
	switch n := g.r.IntN(10); {
	case n == 0: // no argument
	case n == 1: // several
		for range 1 + g.r.IntN(5) {
			b.WriteByte(',')
			b.WriteString(g.value(0))
		}
	case n == 2:
		b.WriteByte(',')
		b.WriteString(g.value(0))
	default:
		b.WriteByte(',')
		b.WriteString(g.object(0))
	}
	b.WriteByte(']')
	// Several big values together can pass the payload limit: the server then closes, as it must.
	return frame{kind: "event", text: b.Bytes(), fatal: b.Len() > g.maxPayload-8}
}

// benign are frames the server must take without closing the connection.
func (g *gen) benign() []frame {
	switch n := g.r.IntN(100); {
	case n < 70:
		return []frame{g.event()}
	case n < 74: // acks for ids the server never used
		return []frame{{kind: "bad-ack", text: fmt.Appendf(nil, "43%d%s", g.r.Int64N(1<<62), g.pick([]string{`[]`, `[null]`, `[{"ok":true}]`, `["x",1,2]`}))}}
	case n < 78: // Engine.IO packets a client may send at any time
		return []frame{{kind: "eio-misc", text: []byte(g.pick([]string{"2", "3", "6", "2probe", "3probe", "6x"}))}}
	case n < 81: // a second CONNECT, a CONNECT to an unknown namespace
		return []frame{{kind: "reconnect", text: []byte(g.pick([]string{`40{"token":"x"}`, `40`, `40/admin,{}`, `40/nope,`}))}}
	case n < 88: // a binary event with as many attachments as it announces, placeholders right or wrong
		k := g.r.IntN(4)
		ph := fmt.Sprintf(`{"_placeholder":true,"num":%d}`, g.pick2(0, g.r.IntN(100)))
		fs := []frame{{kind: "binary-event", text: fmt.Appendf(nil, `45%d-%s[%s,%s]`, k, g.ackID(), g.eventName(), ph)}}
		if k == 0 { // "450-" is not a binary packet for the parser's state machine: plain event
			fs[0].text = fmt.Appendf(nil, `42[%s,%s]`, g.eventName(), ph)
		}
		for range k {
			fs = append(fs, frame{kind: "attachment", bin: g.bytes(g.r.IntN(2000))})
		}
		return fs
	case n < 92:
		return []frame{{kind: "ws-ping", raw: wsFrame(true, 0x9, g.bytes(g.r.IntN(125)), true), wsOnly: true}}
	case n < 95: // a valid event split over fragments, with a ping between them
		ev := g.event().text
		cut := 1 + g.r.IntN(len(ev)-1)
		raw := append(wsFrame(false, 0x1, ev[:cut], true), wsFrame(true, 0x9, nil, true)...)
		raw = append(raw, wsFrame(true, 0x0, ev[cut:], true)...)
		return []frame{{kind: "ws-fragmented", raw: raw, wsOnly: true, fatal: len(ev) > g.maxPayload-8}}
	default:
		return []frame{{kind: "ws-pong", raw: wsFrame(true, 0xA, g.bytes(g.r.IntN(50)), true), wsOnly: true}}
	}
}

func (g *gen) pick2(a, b int) int {
	if g.r.IntN(2) == 0 {
		return a
	}
	return b
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

// fatal frames break the protocol; the server closes the connection (or may).
func (g *gen) fatal(maxPayload int) []frame {
	textPackets := []string{"", "0", "5", "7", "x", "1", "4", "47", "4x", "42", "42{}", "42[]", `42["a"`, "42[null]",
		`44{"message":"x"}`, `4565-["a"]`, `45-["a"]`, `4299999999999999999999["a"]`, `41`, `43`, "4\x00", `42["message:send"]x`}
	switch n := g.r.IntN(100); {
	case n < 40:
		return []frame{{kind: "bad-packet", text: []byte(g.pick(textPackets)), fatal: true}}
	case n < 50: // attachments that do not match their packet
		return []frame{{kind: "bad-attachments", text: []byte(`452-["message:send",{"_placeholder":true,"num":0}]`), fatal: true},
			{kind: "bad-attachments", bin: []byte{1}}, {kind: "bad-attachments", text: []byte(`42["typing:start",{}]`), fatal: true}}
	case n < 55:
		return []frame{{kind: "stray-binary", bin: g.bytes(10), fatal: true}}
	case n < 63:
		d := 10_001 + g.r.IntN(20000)
		return []frame{{kind: "too-deep", text: []byte(`42["message:send",` + strings.Repeat("[", d) + strings.Repeat("]", d) + `]`), fatal: true}}
	case n < 66:
		return []frame{{kind: "oversized", text: append([]byte("42[\"message:send\",\""), bytes.Repeat([]byte("a"), maxPayload)...), fatal: true}}
	}
	// Raw WebSocket abuse.
	raws := []func() []byte{
		func() []byte { return wsFrame(true, 0x1, []byte("42[\"x\"]"), false) }, // unmasked
		func() []byte { b := wsFrame(true, 0x1, []byte("2"), true); b[0] |= 0x40; return b },
		func() []byte { return wsFrame(true, 0x3, []byte("2"), true) }, // reserved opcode
		func() []byte { return wsFrame(false, 0x9, nil, true) },        // fragmented ping
		func() []byte { return wsFrame(true, 0x0, []byte("2"), true) }, // continuation without a start
		func() []byte { return wsFrame(true, 0x1, []byte{'4', '2', 0xff, 0xfe}, true) },
		func() []byte { return wsFrame(true, 0x9, bytes.Repeat([]byte("p"), 126), true) }, // control frame too long
		func() []byte { // 64-bit length with the top bit set
			b := []byte{0x81, 0x80 | 127}
			b = binary.BigEndian.AppendUint64(b, 1<<63|5)
			return append(b, 1, 2, 3, 4)
		},
		func() []byte { // announced far beyond the limit
			b := []byte{0x82, 0x80 | 127}
			b = binary.BigEndian.AppendUint64(b, 1<<40)
			return append(b, 1, 2, 3, 4)
		},
		func() []byte { return wsFrame(true, 0x8, []byte{0x03}, true) },       // close with a 1-byte body
		func() []byte { return wsFrame(true, 0x8, []byte{0, 0, 0xff}, true) }, // bad code and reason
		func() []byte { return []byte{0x81, 0xfe, 0x01} },                     // truncated header, then nothing
		func() []byte { return wsFrame(false, 0x1, []byte("42[\"a"), true) },  // fragment never finished
	}
	return []frame{{kind: "ws-raw", raw: raws[g.r.IntN(len(raws))](), fatal: true, wsOnly: true}}
}

// wsFrame builds a client WebSocket frame (masked when asked).
func wsFrame(fin bool, op byte, payload []byte, masked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// pollPacket is the long-polling form of a text or binary frame.
func pollPacket(f frame) []byte {
	if f.bin != nil {
		return append([]byte("b"), base64.StdEncoding.EncodeToString(f.bin)...)
	}
	return f.text
}
