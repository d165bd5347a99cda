package socketapi

import (
	"context"
	"encoding/json"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/presence"
)

// PresenceService is what the connection hooks and presence:set need.
type PresenceService interface {
	Connected(userID int64, socketID string)
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

// RegisterRealtimeEvents wires presence, typing and receipts.
func (s *Server) RegisterRealtimeEvents(presence PresenceService, typing TypingService, receipts ReceiptService) {
	s.OnConnect(func(c *Conn) { presence.Connected(c.UserID, string(c.Socket.Id())) })
	s.OnDisconnect(func(c *Conn, _ string) { presence.Disconnected(c.UserID, string(c.Socket.Id())) })

	s.On("presence:set", func(_ context.Context, c *Conn, payload json.RawMessage, _ func(any, error)) (any, error) {
		var p struct {
			Status string `json:"status"`
		}
		if err := Decode(payload, &p); err != nil {
			return nil, err
		}
		return nil, presence.SetStatus(c.UserID, string(c.Socket.Id()), p.Status)
	})

	channelOnly := func(payload json.RawMessage) (int64, error) {
		var p struct {
			ChannelID string `json:"channelId"`
		}
		if err := Decode(payload, &p); err != nil {
			return 0, err
		}
		return parseID(p.ChannelID, "channelId")
	}
	// Typing floods are dropped quietly by the throttle; malformed events get an error ack if one was asked.
	s.On("typing:start", func(ctx context.Context, c *Conn, payload json.RawMessage, _ func(any, error)) (any, error) {
		channelID, err := channelOnly(payload)
		if err != nil {
			return nil, err
		}
		return nil, typing.Start(ctx, c.UserID, channelID)
	})
	s.On("typing:stop", func(_ context.Context, c *Conn, payload json.RawMessage, _ func(any, error)) (any, error) {
		channelID, err := channelOnly(payload)
		if err != nil {
			return nil, err
		}
		typing.Stop(c.UserID, channelID)
		return nil, nil
	})

	receipt := func(record func(ctx context.Context, userID, channelID, messageID int64) error) EventHandler {
		return func(_ context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error) {
			var p messageRef
			channelID, messageID, err := decodeRef(payload, &p, &p)
			if err != nil {
				return nil, err
			}
			// Checking the message may read Cassandra.
			return offQueue(reply, func(ctx context.Context) (any, error) {
				return nil, record(ctx, c.UserID, channelID, messageID)
			})
		}
	}
	s.On("receipt:read", receipt(receipts.Read))
	s.On("message:delivered", receipt(receipts.Delivered))
}

// Publisher side of presence, typing and receipts.

func (p *Publisher) TypingChanged(channelID, userID int64, typing bool) {
	err := p.s.io.To(ChannelRoom(channelID)).Except(UserRoom(userID)).Emit("typing:user",
		map[string]any{"channelId": wire.ID(channelID), "userId": wire.ID(userID), "typing": typing})
	if err != nil {
		p.s.log.Warn("socket emit failed", "event", "typing:user", "err", err)
	}
}

// PresenceChanged sends a batch of presence changes, grouped by room: a room with one change gets
// `presence:update` (Presence), a room with several gets one `presence:batch` ({updates: Presence[]}). A socket in
// several of the rooms may see a change twice; presence updates are idempotent.
func (p *Publisher) PresenceChanged(batch []presence.Announcement) {
	byRoom := map[socket.Room][]wire.Presence{}
	var order []socket.Room
	add := func(room socket.Room, pr wire.Presence) {
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
			p.emit("presence:update", ups[0], room)
		} else {
			p.emit("presence:batch", map[string]any{"updates": ups}, room)
		}
	}
}

func (p *Publisher) ReadAdvanced(channelID, userID, messageID int64) {
	p.emit("receipt:update", map[string]any{"channelId": wire.ID(channelID), "userId": wire.ID(userID), "messageId": wire.ID(messageID)}, ChannelRoom(channelID))
	// The reader's other tabs clear their badge for this channel.
	p.emit("unread:update", map[string]any{"channelId": wire.ID(channelID), "unreadCount": 0, "mentionCount": 0, "lastReadId": wire.ID(messageID)}, UserRoom(userID))
}

func (p *Publisher) Delivered(ch model.Channel, userID, messageID, senderID int64) {
	payload := map[string]any{"channelId": wire.ID(ch.ID), "userId": wire.ID(userID), "messageId": wire.ID(messageID)}
	if ch.Kind == model.ChannelDM {
		p.emit("receipt:delivered", payload, ChannelRoom(ch.ID)) // a DM's few members all show delivery state
		return
	}
	p.emit("receipt:delivered", payload, UserRoom(senderID))
}
