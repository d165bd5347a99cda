package socketio

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"time"
)

// Outbox carries adapter messages to the other nodes, in order. Publish queues and returns at once (a stalled
// transport must not hold up the caller); PublishWait returns once the message was handed to the transport.
type Outbox interface {
	Publish(payload []byte)
	PublishWait(ctx context.Context, payload []byte) error
}

// BusAdapter serves a namespace on one node of several: its own sockets live in a LocalAdapter, and every
// broadcast and room action is also sent through the outbox, for the other nodes to run on their own sockets
// (Receive). Broadcasts are queued (a message reaches remote members shortly after local ones); room actions
// wait until they are on their way, so that a kick is ordered before whatever the caller announces next.
type BusAdapter struct {
	*LocalAdapter
	out Outbox
	log *slog.Logger
}

// Local is the node's own adapter (Operator.Local: a broadcast to this node's sockets only).
func (a *BusAdapter) Local() Adapter { return a.LocalAdapter }

// NewBusAdapter wraps local.
func NewBusAdapter(local *LocalAdapter, out Outbox, log *slog.Logger) *BusAdapter {
	return &BusAdapter{LocalAdapter: local, out: out, log: log}
}

const (
	busBroadcast byte = 'B'
	busApply     byte = 'A'
)

// roomActionWait bounds how long a room action waits for the bus (a frozen Redis).
const roomActionWait = time.Second

func (a *BusAdapter) Broadcast(p EncodedPacket, opts BroadcastOptions) {
	a.LocalAdapter.Broadcast(p, opts)
	a.out.Publish(encodeBroadcast(p, opts))
}

func (a *BusAdapter) Apply(opts BroadcastOptions, act RoomAction) {
	a.LocalAdapter.Apply(opts, act)
	ctx, cancel := context.WithTimeout(context.Background(), roomActionWait)
	defer cancel()
	if err := a.out.PublishWait(ctx, encodeApply(opts, act)); err != nil {
		a.log.Warn("room action not yet sent to the other nodes", "err", err)
	}
}

// Receive runs a message from another node on this node's sockets.
func (a *BusAdapter) Receive(payload []byte) error {
	if len(payload) == 0 {
		return errBusMessage
	}
	d := busDecoder{b: payload[1:]}
	opts := BroadcastOptions{Rooms: d.rooms(), Except: d.rooms()}
	switch payload[0] {
	case busBroadcast:
		p := EncodedPacket{Text: d.bytes()}
		for n := d.uvarint(); n > 0 && d.err == nil; n-- {
			p.Attachments = append(p.Attachments, d.bytes())
		}
		if d.err != nil {
			return d.err
		}
		a.LocalAdapter.Broadcast(p, opts)
	case busApply:
		act := RoomAction{Join: d.rooms(), Leave: d.rooms()}
		flags := d.uvarint()
		act.Disconnect, act.Close = flags&1 != 0, flags&2 != 0
		if d.err != nil {
			return d.err
		}
		a.LocalAdapter.Apply(opts, act)
	default:
		return errBusMessage
	}
	return nil
}

var errBusMessage = errors.New("socketio: malformed adapter message")

func encodeBroadcast(p EncodedPacket, opts BroadcastOptions) []byte {
	b := make([]byte, 0, 16+len(p.Text))
	b = append(b, busBroadcast)
	b = appendRooms(b, opts.Rooms)
	b = appendRooms(b, opts.Except)
	b = appendBytes(b, p.Text)
	b = binary.AppendUvarint(b, uint64(len(p.Attachments)))
	for _, att := range p.Attachments {
		b = appendBytes(b, att)
	}
	return b
}

func encodeApply(opts BroadcastOptions, act RoomAction) []byte {
	b := []byte{busApply}
	b = appendRooms(b, opts.Rooms)
	b = appendRooms(b, opts.Except)
	b = appendRooms(b, act.Join)
	b = appendRooms(b, act.Leave)
	var flags uint64
	if act.Disconnect {
		flags |= 1
	}
	if act.Close {
		flags |= 2
	}
	return binary.AppendUvarint(b, flags)
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

func appendRooms(b []byte, rooms []Room) []byte {
	b = binary.AppendUvarint(b, uint64(len(rooms)))
	for _, r := range rooms {
		b = appendBytes(b, []byte(r))
	}
	return b
}

type busDecoder struct {
	b   []byte
	err error
}

func (d *busDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBusMessage
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *busDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errBusMessage
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *busDecoder) rooms() []Room {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errBusMessage
		return nil
	}
	var out []Room
	for ; n > 0 && d.err == nil; n-- {
		out = append(out, Room(d.bytes()))
	}
	return out
}
