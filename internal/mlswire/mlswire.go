// Package mlswire reads the clear header of an MLS application message (RFC 9420 §6, §6.3): the group id and
// epoch the sender claims, which the chat server needs to ask the key service whether the message may be stored.
// It decrypts nothing and verifies nothing: MLS authenticates the header inside the ciphertext, so a sender who
// lies in it only makes its message unreadable to the group. Only the fields the server needs are parsed, but
// the whole TLS encoding is walked so that a truncated or padded message is refused.
package mlswire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Header is the clear part of an MLS PrivateMessage.
type Header struct {
	GroupID []byte
	Epoch   uint64
}

const (
	versionMLS10       = 1 // ProtocolVersion mls10
	wireFormatPrivate  = 2 // WireFormat mls_private_message
	contentApplication = 1 // ContentType application
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("not an MLS application message")

// ParseApplicationMessage parses an MLSMessage that must be an mls10 PrivateMessage carrying application data:
//
//	MLSMessage     { uint16 version; uint16 wire_format; PrivateMessage private_message; }
//	PrivateMessage { opaque group_id<V>; uint64 epoch; uint8 content_type;
//	                 opaque authenticated_data<V>; opaque encrypted_sender_data<V>; opaque ciphertext<V>; }
//
// Commits and proposals (content types 2 and 3, sent to the key service, never as chat messages), public
// messages, Welcomes and key packages are refused, as is anything left over after the last field.
func ParseApplicationMessage(b []byte) (Header, error) {
	r := reader{b: b}
	version, wf := r.uint16(), r.uint16()
	groupID := r.vector()
	epoch := r.uint64()
	contentType := r.uint8()
	r.vector() // authenticated_data
	r.vector() // encrypted_sender_data
	ct := r.vector()
	switch {
	case r.err != nil:
		return Header{}, r.err
	case version != versionMLS10:
		return Header{}, fmt.Errorf("%w: protocol version %d", ErrMalformed, version)
	case wf != wireFormatPrivate:
		return Header{}, fmt.Errorf("%w: wire format %d", ErrMalformed, wf)
	case contentType != contentApplication:
		return Header{}, fmt.Errorf("%w: content type %d", ErrMalformed, contentType)
	case len(groupID) == 0 || len(ct) == 0:
		return Header{}, fmt.Errorf("%w: empty group id or ciphertext", ErrMalformed)
	case len(r.b) != 0:
		return Header{}, fmt.Errorf("%w: %d bytes after the message", ErrMalformed, len(r.b))
	}
	return Header{GroupID: groupID, Epoch: epoch}, nil
}

// reader walks TLS presentation-language data; the first error sticks and later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", ErrMalformed)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uint8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) uint16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// vector reads opaque data<V>: a variable-length integer length (RFC 9420 §2.1.2: the two top bits of the first
// byte give its size, 1, 2 or 4 bytes; 8 bytes is invalid in MLS, and the length must use the fewest bytes).
func (r *reader) vector() []byte {
	first := r.take(1)
	if first == nil {
		return nil
	}
	size := 1 << (first[0] >> 6)
	if size == 8 {
		r.err = fmt.Errorf("%w: invalid length prefix", ErrMalformed)
		return nil
	}
	n := uint32(first[0] & 0x3f)
	for _, x := range r.take(size - 1) {
		n = n<<8 | uint32(x)
	}
	if r.err == nil && ((size == 2 && n < 1<<6) || (size == 4 && n < 1<<14)) {
		r.err = fmt.Errorf("%w: length not minimally encoded", ErrMalformed)
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated", ErrMalformed)
		return nil
	}
	return r.take(int(n))
}
