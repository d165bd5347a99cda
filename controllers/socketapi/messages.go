package socketapi

import (
	"context"
	"encoding/json"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
)

// MessageService is what the message events need.
type MessageService interface {
	Send(ctx context.Context, userID, channelID int64, content, nonce string, done func(model.Message, error)) error
	Edit(ctx context.Context, userID, channelID, messageID int64, content string) (model.Message, error)
	Delete(ctx context.Context, userID, channelID, messageID int64) error
	Sync(ctx context.Context, userID int64, since map[int64]int64) (map[int64]messaging.SyncResult, error)
}

// RegisterMessageEvents wires message:send, message:edit, message:delete and messages:sync.
func (s *Server) RegisterMessageEvents(svc MessageService) {
	s.On("message:send", func(ctx context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error) {
		var p struct {
			ChannelID string `json:"channelId"`
			Content   string `json:"content"`
			Nonce     string `json:"nonce"`
		}
		if err := Decode(payload, &p); err != nil {
			return nil, err
		}
		channelID, err := parseID(p.ChannelID, "channelId")
		if err != nil {
			return nil, err
		}
		// The ack waits for Cassandra, but the handler returns at once: the socket's next events are not held
		// up by this one's write.
		err = svc.Send(ctx, c.UserID, channelID, p.Content, p.Nonce, func(m model.Message, err error) {
			if err != nil {
				reply(nil, err)
				return
			}
			wm := wire.ToMessage(m)
			_ = c.Socket.Emit("message:sent", wm)
			reply(map[string]any{"message": wm}, nil)
		})
		if err != nil {
			return nil, err
		}
		return Deferred, nil
	})

	// Edits and deletes write to Cassandra synchronously; they run off the socket's queue.
	s.On("message:edit", func(_ context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error) {
		var p struct {
			messageRef
			Content string `json:"content"`
		}
		channelID, messageID, err := decodeRef(payload, &p, &p.messageRef)
		if err != nil {
			return nil, err
		}
		return offQueue(reply, func(ctx context.Context) (any, error) {
			m, err := svc.Edit(ctx, c.UserID, channelID, messageID, p.Content)
			if err != nil {
				return nil, err
			}
			return map[string]any{"message": wire.ToMessage(m)}, nil
		})
	})

	s.On("message:delete", func(_ context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error) {
		var p messageRef
		channelID, messageID, err := decodeRef(payload, &p, &p)
		if err != nil {
			return nil, err
		}
		return offQueue(reply, func(ctx context.Context) (any, error) {
			return nil, svc.Delete(ctx, c.UserID, channelID, messageID)
		})
	})

	s.On("messages:sync", func(_ context.Context, c *Conn, payload json.RawMessage, reply func(any, error)) (any, error) {
		var p struct {
			Channels map[string]string `json:"channels"`
		}
		if err := Decode(payload, &p); err != nil {
			return nil, err
		}
		since := make(map[int64]int64, len(p.Channels))
		for ch, last := range p.Channels {
			channelID, err := parseID(ch, "channels")
			if err != nil {
				return nil, err
			}
			var after int64
			if last != "" && last != "0" {
				if after, err = parseID(last, "channels"); err != nil {
					return nil, err
				}
			}
			since[channelID] = after
		}
		return offQueue(reply, func(ctx context.Context) (any, error) {
			res, err := svc.Sync(ctx, c.UserID, since)
			if err != nil {
				return nil, err
			}
			msgs := make(map[string][]wire.Message, len(res))
			more := make(map[string]bool, len(res))
			for id, r := range res {
				msgs[wire.ID(id)] = wire.ToMessages(r.Messages)
				more[wire.ID(id)] = r.HasMore
			}
			return map[string]any{"messages": msgs, "hasMore": more}, nil
		})
	})
}

// Publisher side of messaging.

func (p *Publisher) MessageCreated(m model.Message) {
	p.emit("message:new", wire.ToMessage(m), ChannelRoom(m.ChannelID))
}

func (p *Publisher) MessageUpdated(m model.Message) {
	p.emit("message:updated", wire.ToMessage(m), ChannelRoom(m.ChannelID))
}

func (p *Publisher) MessageDeleted(channelID, messageID int64) {
	p.emit("message:deleted", map[string]any{"channelId": wire.ID(channelID), "messageId": wire.ID(messageID)}, ChannelRoom(channelID))
}

// messageRef is the {channelId, messageId} part of several payloads.
type messageRef struct {
	ChannelID string `json:"channelId"`
	MessageID string `json:"messageId"`
}

// decodeRef decodes a payload into dst and parses the message reference it embeds.
func decodeRef(payload json.RawMessage, dst any, ref *messageRef) (channelID, messageID int64, err error) {
	if err := Decode(payload, dst); err != nil {
		return 0, 0, err
	}
	if channelID, err = parseID(ref.ChannelID, "channelId"); err != nil {
		return 0, 0, err
	}
	if messageID, err = parseID(ref.MessageID, "messageId"); err != nil {
		return 0, 0, err
	}
	return channelID, messageID, nil
}

// offQueue runs slow work (database reads and writes) on its own goroutine and answers through reply, so
// the socket's next events are not held up (a socket's handlers run one at a time).
func offQueue(reply func(any, error), work func(ctx context.Context) (any, error)) (any, error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
		defer cancel()
		reply(work(ctx))
	}()
	return Deferred, nil
}

func parseID(s, field string) (int64, error) { return wire.ParseID(s, field) }
