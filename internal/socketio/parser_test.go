package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	valid := []struct {
		in   string
		want Packet
	}{
		{`0`, Packet{Type: PacketConnect, Nsp: "/", ID: -1}},
		{`0{"token":"x"}`, Packet{Type: PacketConnect, Nsp: "/", ID: -1, Data: []byte(`{"token":"x"}`)}},
		{`0/admin,`, Packet{Type: PacketConnect, Nsp: "/admin", ID: -1}},
		{`0/admin`, Packet{Type: PacketConnect, Nsp: "/admin", ID: -1}},
		{`0/admin,{}`, Packet{Type: PacketConnect, Nsp: "/admin", ID: -1, Data: []byte(`{}`)}},
		{`1`, Packet{Type: PacketDisconnect, Nsp: "/", ID: -1}},
		{`1/admin,`, Packet{Type: PacketDisconnect, Nsp: "/admin", ID: -1}},
		{`2["hello",1]`, Packet{Type: PacketEvent, Nsp: "/", ID: -1, Data: []byte(`["hello",1]`)}},
		{`2/admin,456["hello"]`, Packet{Type: PacketEvent, Nsp: "/admin", ID: 456, Data: []byte(`["hello"]`)}},
		{`20["a"]`, Packet{Type: PacketEvent, Nsp: "/", ID: 0, Data: []byte(`["a"]`)}},
		{`2[12]`, Packet{Type: PacketEvent, Nsp: "/", ID: -1, Data: []byte(`[12]`)}},
		{`2 ["a"]`, Packet{Type: PacketEvent, Nsp: "/", ID: -1, Data: []byte(` ["a"]`)}},
		{`3/admin,456[]`, Packet{Type: PacketAck, Nsp: "/admin", ID: 456, Data: []byte(`[]`)}},
		{`31["x"]`, Packet{Type: PacketAck, Nsp: "/", ID: 1, Data: []byte(`["x"]`)}},
		{`4{"message":"no"}`, Packet{Type: PacketConnectError, Nsp: "/", ID: -1, Data: []byte(`{"message":"no"}`)}},
		{`4"no"`, Packet{Type: PacketConnectError, Nsp: "/", ID: -1, Data: []byte(`"no"`)}},
		{`51-["a",{"_placeholder":true,"num":0}]`, Packet{Type: PacketBinaryEvent, Nsp: "/", ID: -1, Attachments: 1,
			Data: []byte(`["a",{"_placeholder":true,"num":0}]`)}},
		{`52-/admin,7["a"]`, Packet{Type: PacketBinaryEvent, Nsp: "/admin", ID: 7, Attachments: 2, Data: []byte(`["a"]`)}},
		{`61-/admin,456[{"_placeholder":true,"num":0}]`, Packet{Type: PacketBinaryAck, Nsp: "/admin", ID: 456,
			Attachments: 1, Data: []byte(`[{"_placeholder":true,"num":0}]`)}},
	}
	for _, tc := range valid {
		got, err := DecodePacket([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
	invalid := []string{
		``, `7`, `a`, `/`,
		`0[]`, `0"x"`, `0{`, `01`, `01{}`, // CONNECT: object only, no ack id
		`1{}`, `11`, // DISCONNECT: no payload
		`2`, `2{}`, `2[]`, `2[{}]`, `2[null]`, `2[true]`, `2"x"`, `2["a"`, `2/admin,`, `2/admin["a"]`, `2x`,
		`3`, `31`, `3{}`, `31"x"`,
		`4`, `4[]`, `41{}`,
		`5["a"]`, `5-["a"]`, `5x-["a"]`, `5-1-["a"]`, `565-["a"]`, `599999999999999999999-["a"]`,
		`6-1["a"]`,
		`299999999999999999999["a"]`, // ack id overflow
	}
	for _, in := range invalid {
		if p, err := DecodePacket([]byte(in)); !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("%q accepted: %+v", in, p)
		}
	}
}

func TestSplitEvent(t *testing.T) {
	for in, want := range map[string]string{`["a",1,{"b":2}]`: "a", `[42,"x"]`: "42", `["\u00e9"]`: "\u00e9", `[-1.5e3]`: "-1.5e3"} {
		name, args, err := splitEvent([]byte(in))
		if err != nil || name != want {
			t.Errorf("%s: %q %v", in, name, err)
		}
		var all []json.RawMessage
		_ = json.Unmarshal([]byte(in), &all)
		if !reflect.DeepEqual(args, all[1:]) {
			t.Errorf("%s: args %q", in, args)
		}
	}
	for _, in := range []string{``, `[]`, `{}`, `[`} {
		if _, _, err := splitEvent([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestEncodeEventAndAck(t *testing.T) {
	cases := []struct {
		p       EncodedPacket
		text    string
		binary  int
		comment string
	}{
		{must(encodeEvent("/", -1, "hi", nil)), `2["hi"]`, 0, "no args"},
		{must(encodeEvent("/", 3, "hi", []any{1, "<b>"})), `23["hi",1,"<b>"]`, 0, "ack id, no HTML escaping"},
		{must(encodeEvent("/admin", -1, "hi", []any{[]byte{1}})), `51-/admin,["hi",{"_placeholder":true,"num":0}]`, 1, "binary"},
		{must(encodeEvent("", 0, "e\"v", []any{json.RawMessage(`{"a":1}`), json.RawMessage(nil)})), `20["e\"v",{"a":1},null]`, 0, "raw"},
		{must(encodeEvent("/", -1, "relay", []any{Args{Raw: []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`), json.RawMessage(`2`)},
			Attachments: [][]byte{{9}}}, []byte{8}})), `52-["relay",{"_placeholder":true,"num":0},2,{"_placeholder":true,"num":1}]`, 2, "relayed args first"},
		{must(encodeAck("/", 5, nil)), `35[]`, 0, "empty ack"},
		{must(encodeAck("/x", 5, []any{"ok", []byte{1}, []byte{2}})), `62-/x,5["ok",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2, "binary ack"},
	}
	for _, tc := range cases {
		if string(tc.p.Text) != tc.text || len(tc.p.Attachments) != tc.binary {
			t.Errorf("%s: %s with %d attachments, want %s with %d", tc.comment, tc.p.Text, len(tc.p.Attachments), tc.text, tc.binary)
		}
		// What we encode, we decode.
		p, err := DecodePacket(tc.p.Text)
		if err != nil || p.Attachments != tc.binary {
			t.Errorf("%s: does not decode: %+v %v", tc.comment, p, err)
		}
	}
	// Received arguments carry placeholders numbered from 0: behind another binary argument they would point at
	// the wrong attachments, so that is refused rather than sent wrong.
	relayed := Args{Raw: []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`)}, Attachments: [][]byte{{9}}}
	if p, err := encodeEvent("/", -1, "x", []any{[]byte{8}, relayed}); err == nil {
		t.Errorf("binary argument before relayed attachments encoded as %s %q", p.Text, p.Attachments)
	}
	if _, err := encodeEvent("/", -1, "x", []any{relayed, relayed}); err == nil {
		t.Error("two relayed argument lists with attachments encoded")
	}
	if p, err := encodeEvent("/", -1, "x", []any{[]byte{8}, Args{Raw: []json.RawMessage{json.RawMessage(`1`)}}}); err != nil ||
		string(p.Text) != `51-["x",{"_placeholder":true,"num":0},1]` {
		t.Errorf("relayed arguments without attachments after a binary one: %s %v", p.Text, err)
	}
	if _, err := encodeEvent("/", -1, "x", []any{make(chan int)}); err == nil {
		t.Error("a channel argument encoded")
	}
	if _, err := encodeAck("/", 1, []any{func() {}}); err == nil {
		t.Error("a func argument encoded")
	}
}

func must(p EncodedPacket, err error) EncodedPacket {
	if err != nil {
		panic(err)
	}
	return p
}

// FuzzDecodePacket: the decoder never panics; an accepted packet is well formed (its type, namespace, ack id and
// attachment count within the protocol's rules), re-encodes with appendHeader + Data to a packet that decodes to
// the same, and an accepted event splits into a name and arguments that re-encode to the same event.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{
		`0`, `0{"token":"x"}`, `0/admin,`, `0/admin,{"a":[1,2]}`, `0/admin`, `1`, `1/admin,`,
		`2["hello",1]`, `2/admin,456["hello",{"a":null}]`, `20["a"]`, `2[12,"x"]`, `2[-1.5e3]`, `2 ["a"]`, `2["\u00e9\ud83d\ude00"]`,
		`3/admin,456[]`, `31["x"]`, `4{"message":"no","data":{"x":1}}`, `4"no"`,
		`51-["a",{"_placeholder":true,"num":0}]`, `52-/admin,7["a",{"_placeholder":true,"num":1}]`, `61-/admin,456[{"_placeholder":true,"num":0}]`,
		`5+1-["a"]`, `500-["a"]`, `2007["a"]`, `2/,["a"]`, `2/a/b,1["x"]`,
		``, `7`, `0[]`, `01`, `2`, `2[]`, `2[null]`, `2["a"`, `5-["a"]`, `565-["a"]`, `299999999999999999999["a"]`,
		`2["a",` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePacket(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if p.Type > PacketBinaryAck || !strings.HasPrefix(p.Nsp, "/") || p.ID < -1 {
			t.Fatalf("accepted %+v", p)
		}
		binary := p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck
		if p.Attachments < 0 || p.Attachments > maxAttachments || (!binary && p.Attachments != 0) {
			t.Fatalf("attachments %d in %+v", p.Attachments, p)
		}
		withAck := p.Type == PacketEvent || p.Type == PacketBinaryEvent || p.Type == PacketAck || p.Type == PacketBinaryAck
		if p.ID >= 0 && !withAck {
			t.Fatalf("ack id on %+v", p)
		}
		if (withAck || p.Type == PacketConnectError) && p.Data == nil {
			t.Fatalf("no payload on %+v", p)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("invalid JSON accepted: %q", p.Data)
		}

		// Round trip through the encoder's header (which always ends a namespace with ',': "0/admin" and
		// "0/admin," decode alike).
		enc := append(appendHeader(nil, p.Type, p.Nsp, p.ID, p.Attachments), p.Data...)
		q, err := DecodePacket(enc)
		if err != nil {
			t.Fatalf("%q decoded to %+v, which re-encodes to %q that does not decode: %v", in, p, enc, err)
		}
		if q.Type != p.Type || q.Nsp != p.Nsp || q.ID != p.ID || q.Attachments != p.Attachments || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("round trip of %q: %+v, then %+v (via %q)", in, p, q, enc)
		}

		if p.Type != PacketEvent && p.Type != PacketBinaryEvent {
			return
		}
		name, args, err := splitEvent(p.Data)
		if err != nil {
			t.Fatalf("validated event %q does not split: %v", p.Data, err)
		}
		// Re-encoded by the server (the name as a JSON string, the arguments passed on raw), it splits the same.
		ev, err := encodeEvent(p.Nsp, p.ID, name, []any{Args{Raw: args}})
		if err != nil {
			t.Fatalf("re-encoding %q: %v", p.Data, err)
		}
		r, err := DecodePacket(ev.Text)
		if err != nil {
			t.Fatalf("re-encoded event %q does not decode: %v", ev.Text, err)
		}
		name2, args2, err := splitEvent(r.Data)
		if err != nil || name2 != name || len(args2) != len(args) {
			t.Fatalf("re-encoded event %q: %q %d args (was %q %d)", ev.Text, name2, len(args2), name, len(args))
		}
		for i := range args {
			if !bytes.Equal(args[i], args2[i]) {
				t.Fatalf("argument %d: %q, then %q", i, args[i], args2[i])
			}
		}
		if r.Nsp != p.Nsp || r.ID != p.ID || r.Type != PacketEvent {
			t.Fatalf("re-encoded header %+v (was %+v)", r, p)
		}
	})
}
