package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
)

// PacketType is a Socket.IO v5 packet type.
type PacketType byte

const (
	PacketConnect PacketType = iota
	PacketDisconnect
	PacketEvent
	PacketAck
	PacketConnectError
	PacketBinaryEvent
	PacketBinaryAck
)

// Packet is a decoded Socket.IO packet. Data is the raw JSON payload (nil when absent); binary packets name
// how many attachments follow.
type Packet struct {
	Type        PacketType
	Nsp         string
	ID          int64 // -1: no ack requested
	Attachments int
	Data        []byte
}

// ErrInvalidPacket is returned for packets that do not follow the protocol; the connection is closed.
var ErrInvalidPacket = errors.New("socket.io: invalid packet")

// maxAttachments bounds the binary attachments one packet may announce.
const maxAttachments = 64

// DecodePacket parses the text form of a packet: type, [attachments "-"], [namespace ","], [ack id], [JSON].
func DecodePacket(s []byte) (Packet, error) {
	p := Packet{ID: -1, Nsp: "/"}
	if len(s) == 0 || s[0] < '0' || s[0] > '6' {
		return p, ErrInvalidPacket
	}
	p.Type = PacketType(s[0] - '0')
	i := 1
	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		j := bytes.IndexByte(s[i:], '-')
		if j <= 0 {
			return p, ErrInvalidPacket
		}
		n, err := strconv.Atoi(string(s[i : i+j]))
		if err != nil || n < 0 || n > maxAttachments {
			return p, ErrInvalidPacket
		}
		p.Attachments = n
		i += j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.Nsp = string(s[i:])
			i = len(s)
		} else {
			p.Nsp = string(s[i : i+j])
			i += j + 1
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		id, err := strconv.ParseInt(string(s[i:j]), 10, 64)
		if err != nil {
			return p, ErrInvalidPacket
		}
		p.ID = id
		i = j
	}
	if i < len(s) {
		p.Data = s[i:]
		if !validPayload(p.Type, p.Data) {
			return p, ErrInvalidPacket
		}
	} else if p.Type == PacketEvent || p.Type == PacketBinaryEvent || p.Type == PacketAck || p.Type == PacketBinaryAck || p.Type == PacketConnectError {
		return p, ErrInvalidPacket
	}
	if p.ID >= 0 && p.Type != PacketEvent && p.Type != PacketBinaryEvent && p.Type != PacketAck && p.Type != PacketBinaryAck {
		return p, ErrInvalidPacket
	}
	return p, nil
}

// validPayload checks the JSON shape each packet type allows (as the reference parser does).
func validPayload(t PacketType, data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	first := firstNonSpace(data)
	switch t {
	case PacketConnect:
		return first == '{'
	case PacketDisconnect:
		return false
	case PacketConnectError:
		return first == '{' || first == '"'
	case PacketEvent, PacketBinaryEvent:
		if first != '[' {
			return false
		}
		var head []json.RawMessage
		if err := json.Unmarshal(data, &head); err != nil || len(head) == 0 {
			return false
		}
		c := firstNonSpace(head[0])
		return c == '"' || c == '-' || (c >= '0' && c <= '9')
	case PacketAck, PacketBinaryAck:
		return first == '['
	}
	return false
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// splitEvent returns the event name and the raw arguments of an EVENT payload (already validated).
func splitEvent(data []byte) (string, []json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) == 0 {
		return "", nil, ErrInvalidPacket
	}
	var name string
	if err := json.Unmarshal(arr[0], &name); err != nil {
		// A numeric event name (the protocol allows it): keep its text.
		name = string(arr[0])
	}
	return name, arr[1:], nil
}

// appendHeader writes type, attachments, namespace and ack id.
func appendHeader(b []byte, t PacketType, nsp string, id int64, attachments int) []byte {
	b = append(b, byte('0'+t))
	if t == PacketBinaryEvent || t == PacketBinaryAck {
		b = strconv.AppendInt(b, int64(attachments), 10)
		b = append(b, '-')
	}
	if nsp != "/" && nsp != "" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	return b
}

// placeholder is how a binary argument appears in the JSON of a binary packet.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// encodeArgs encodes event/ack arguments as a JSON array after prefix (the event name's JSON or nothing).
// Top-level []byte arguments become binary attachments (placeholders in the JSON).
func encodeArgs(b []byte, prefix []byte, args []any) ([]byte, [][]byte, error) {
	var attachments [][]byte
	b = append(b, '[')
	b = append(b, prefix...)
	first := len(prefix) == 0
	for _, a := range args {
		if v, ok := a.(Args); ok {
			// Received arguments passed on as they came: their placeholders already number their attachments
			// from 0, so those must be the first attachments of the packet.
			if len(v.Attachments) > 0 && len(attachments) > 0 {
				return nil, nil, errRelayedAttachments
			}
			for _, r := range v.Raw {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, r...)
			}
			attachments = append(attachments, v.Attachments...)
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		var err error
		switch v := a.(type) {
		case []byte:
			b, err = appendJSON(b, placeholder{true, len(attachments)})
			attachments = append(attachments, v)
		case json.RawMessage:
			if v == nil {
				b = append(b, "null"...)
			} else {
				b = append(b, v...)
			}
		default:
			b, err = appendJSON(b, v)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return append(b, ']'), attachments, nil
}

// errRelayedAttachments: received Args with attachments were passed after another binary argument; their
// placeholders would point at the wrong attachments.
var errRelayedAttachments = errors.New("socket.io: received Args with attachments must come before other binary arguments")

var encPool = sync.Pool{New: func() any {
	buf := new(bytes.Buffer)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // "<" stays "<": smaller frames, same meaning
	return &encoder{buf: buf, enc: enc}
}}

type encoder struct {
	buf *bytes.Buffer
	enc *json.Encoder
}

// appendJSON appends v's JSON (without HTML escaping).
func appendJSON(b []byte, v any) ([]byte, error) {
	e := encPool.Get().(*encoder)
	defer encPool.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return b, err
	}
	out := e.buf.Bytes()
	return append(b, out[:len(out)-1]...), nil // Encode adds a newline
}

// EncodedPacket is a packet in its wire form: the text packet and its binary attachments. Broadcasts carry
// it, so it is what an adapter sends to other nodes.
type EncodedPacket struct {
	Text        []byte
	Attachments [][]byte
}

// encodeEvent builds an EVENT (or BINARY_EVENT) packet.
func encodeEvent(nsp string, id int64, event string, args []any) (EncodedPacket, error) {
	name, err := appendJSON(nil, event)
	if err != nil {
		return EncodedPacket{}, err
	}
	body, att, err := encodeArgs(make([]byte, 0, 64), name, args)
	if err != nil {
		return EncodedPacket{}, err
	}
	t := PacketEvent
	if len(att) > 0 {
		t = PacketBinaryEvent
	}
	text := appendHeader(make([]byte, 0, 24+len(body)), t, nsp, id, len(att))
	return EncodedPacket{Text: append(text, body...), Attachments: att}, nil
}

// encodeAck builds an ACK (or BINARY_ACK) packet.
func encodeAck(nsp string, id int64, args []any) (EncodedPacket, error) {
	body, att, err := encodeArgs(make([]byte, 0, 64), nil, args)
	if err != nil {
		return EncodedPacket{}, err
	}
	t := PacketAck
	if len(att) > 0 {
		t = PacketBinaryAck
	}
	text := appendHeader(make([]byte, 0, 24+len(body)), t, nsp, id, len(att))
	return EncodedPacket{Text: append(text, body...), Attachments: att}, nil
}
