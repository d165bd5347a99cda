package app

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/cluster"
)

// Bus topics: one Redis channel carries them all, in order per sending node.
const (
	topicSockets  byte = 'S' // socket broadcasts and room changes (socketio.BusAdapter)
	topicAccess   byte = 'A' // memberships changed: clear the access cache
	topicReadPos  byte = 'R' // a read or delivery position moved
	topicSessions byte = 'V' // a session was revoked: forget its cached validity
	accessTimeout      = time.Second
)

// peers tells the other nodes about changes that their caches hold (community.Peers, readstate.Peers).
type peers struct {
	access, reads *cluster.Topic
}

func (p peers) AccessChanged() {
	ctx, cancel := context.WithTimeout(context.Background(), accessTimeout)
	defer cancel()
	_ = p.access.PublishWait(ctx, nil) // a stalled bus: the others' caches expire within 10 s anyway
}

// sessionPeers tells the other nodes that a session was revoked (auth.RevocationListener).
type sessionPeers struct{ topic *cluster.Topic }

func (p sessionPeers) SessionRevoked(sessionID, _ int64, _ string) {
	p.topic.Publish(binary.BigEndian.AppendUint64(nil, uint64(sessionID)))
}

func (p peers) Advanced(st model.ReadState) { p.reads.Publish(encodeReadState(st)) }

func encodeReadState(st model.ReadState) []byte {
	b := make([]byte, 0, 40)
	b = binary.BigEndian.AppendUint64(b, uint64(st.UserID))
	b = binary.BigEndian.AppendUint64(b, uint64(st.ChannelID))
	b = binary.BigEndian.AppendUint64(b, uint64(st.LastReadID))
	b = binary.BigEndian.AppendUint64(b, uint64(st.LastDeliveredID))
	return binary.BigEndian.AppendUint64(b, uint64(st.UpdatedAt.UnixMilli()))
}

func decodeReadState(b []byte) (model.ReadState, bool) {
	if len(b) != 40 {
		return model.ReadState{}, false
	}
	u := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[i*8:])) }
	return model.ReadState{UserID: u(0), ChannelID: u(1), LastReadID: u(2), LastDeliveredID: u(3), UpdatedAt: time.UnixMilli(u(4)).UTC()}, true
}
