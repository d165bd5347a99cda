package socketapi

import (
	"context"

	"github.com/parleychat/parley/internal/socketio"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/presence"
)

// PresenceService is what the connection hooks and presence:set need.
type PresenceService interface {
	ConnectedAs(userID int64, socketID, status string)
	Disconnected(userID int64, socketID string)
	SetStatus(userID int64, socketID, status string) error
}

// TypingService forwards typing indicators.
type TypingService interface {
	Start(ctx context.Context, userID, channelID int64) error
	Stop(userID, channelID int64)
}

// ReceiptService records read and delivery receipts.
type ReceiptService interface {
	Read(ctx context.Context, userID, channelID, messageID int64) error
	Delivered(ctx context.Context, userID, channelID, messageID int64) error
}

// realtimeEvents registers the presence hooks and events, typing and receipts.
func (s *Server) realtimeEvents(presence PresenceService, typing TypingService, receipts ReceiptService) {
	s.onConnect(func(c *Conn) { presence.ConnectedAs(c.UserID, c.Socket.ID(), c.Status) })
	s.onDisconnect(func(c *Conn, _ string) { presence.Disconnected(c.UserID, c.Socket.ID()) })

	on(s, wire.EventPresenceSet, answer(func(_ context.Context, c *Conn, p wire.PresenceSetPayload) (wire.Ack, error) {
		return nil, presence.SetStatus(c.UserID, c.Socket.ID(), p.Status)
	}))

	// Typing floods are dropped quietly by the throttle; malformed events get an error ack if one was asked.
	on(s, wire.EventTypingStart, answer(func(ctx context.Context, c *Conn, p wire.ChannelRef) (wire.Ack, error) {
		channelID, err := parseID(p.ChannelID, "channelId")
		if err != nil {
			return nil, err
		}
		return nil, typing.Start(ctx, c.UserID, channelID)
	}))
	on(s, wire.EventTypingStop, answer(func(_ context.Context, c *Conn, p wire.ChannelRef) (wire.Ack, error) {
		channelID, err := parseID(p.ChannelID, "channelId")
		if err != nil {
			return nil, err
		}
		typing.Stop(c.UserID, channelID)
		return nil, nil
	}))

	receipt := func(record func(ctx context.Context, userID, channelID, messageID int64) error) Handler[wire.MessageRef] {
		return func(ev context.Context, c *Conn, p wire.MessageRef, reply Reply) {
			channelID, messageID, err := parseRef(p)
			if err != nil {
				reply(nil, err)
				return
			}
			// Checking the message may read Cassandra.
			offQueue(ev, reply, func(ctx context.Context) (wire.Ack, error) {
				return nil, record(ctx, c.UserID, channelID, messageID)
			})
		}
	}
	on(s, wire.EventReceiptRead, receipt(receipts.Read))
	on(s, wire.EventMessageDelivered, receipt(receipts.Delivered))
}

// Publisher side of presence, typing and receipts.

func (p *Publisher) TypingChanged(channelID, userID int64, typing bool) {
	err := p.s.nsp.To(ChannelRoom(channelID)).Except(UserRoom(userID)).Emit(wire.EventTypingUser,
		wire.TypingEvent{ChannelID: wire.ID(channelID), UserID: wire.ID(userID), Typing: typing})
	if err != nil {
		p.s.log.Warn("socket emit failed", "event", wire.EventTypingUser, "err", err)
	}
}

// PresenceChanged sends a batch of presence changes, grouped by room: a room with one change gets
// `presence:update` (Presence), a room with several gets one `presence:batch` ({updates: Presence[]}). A socket in
// several of the rooms may see a change twice; presence updates are idempotent.
func (p *Publisher) PresenceChanged(batch []presence.Announcement) {
	byRoom := map[socketio.Room][]wire.Presence{}
	var order []socketio.Room
	add := func(room socketio.Room, pr wire.Presence) {
		if _, ok := byRoom[room]; !ok {
			order = append(order, room)
		}
		byRoom[room] = append(byRoom[room], pr)
	}
	for _, a := range batch {
		pr := wire.ToPresence(a.Presence)
		add(UserRoom(a.Presence.UserID), pr)
		for _, id := range a.ServerIDs {
			add(ServerRoom(id), pr)
		}
		for _, id := range a.DMChannelIDs {
			add(ChannelRoom(id), pr)
		}
	}
	for _, room := range order {
		if ups := byRoom[room]; len(ups) == 1 {
			p.emit(wire.EventPresenceUpdate, ups[0], room)
		} else {
			p.emit(wire.EventPresenceBatch, wire.PresenceBatchEvent{Updates: ups}, room)
		}
	}
}

func (p *Publisher) ReadAdvanced(channelID, userID, messageID int64) {
	p.emit(wire.EventReceiptUpdate, wire.ReceiptEvent{ChannelID: wire.ID(channelID), UserID: wire.ID(userID), MessageID: wire.ID(messageID)}, ChannelRoom(channelID))
	// The reader's other tabs clear their badge for this channel.
	p.emit(wire.EventUnreadUpdate, wire.UnreadEvent{ChannelID: wire.ID(channelID), LastReadID: wire.ID(messageID)}, UserRoom(userID))
}

func (p *Publisher) Delivered(ch model.Channel, userID, messageID, senderID int64) {
	payload := wire.ReceiptEvent{ChannelID: wire.ID(ch.ID), UserID: wire.ID(userID), MessageID: wire.ID(messageID)}
	if ch.Kind == model.ChannelDM {
		p.emit(wire.EventReceiptDelivered, payload, ChannelRoom(ch.ID)) // a DM's few members all show delivery state
		return
	}
	p.emit(wire.EventReceiptDelivered, payload, UserRoom(senderID))
}
