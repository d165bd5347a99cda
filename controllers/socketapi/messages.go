package socketapi

import (
	"context"
	"time"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
)

// MessageService is what the message events need.
type MessageService interface {
	Send(ctx context.Context, d messaging.Draft, done func(model.Message, error)) error
	EditInSession(ctx context.Context, sessionID, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error)
	Delete(ctx context.Context, userID, channelID, messageID int64) error
	Sync(ctx context.Context, userID int64, since map[int64]int64) (map[int64]messaging.SyncResult, error)
}

// messageEvents registers message:send, message:edit, message:delete and messages:sync.
func (s *Server) messageEvents(svc MessageService) {
	on(s, wire.EventMessageSend, func(ctx context.Context, c *Conn, p wire.SendMessagePayload, reply Reply) {
		channelID, err := parseID(p.ChannelID, "channelId")
		if err != nil {
			reply(nil, err)
			return
		}
		// The ack waits for Cassandra, but the handler returns at once: the socket's next events are not held
		// up by this one's write.
		d := messaging.Draft{UserID: c.UserID, SessionID: c.SessionID, ChannelID: channelID, Content: p.Content, Nonce: p.Nonce, Encrypted: p.Encrypted}
		if p.ReplyTo != "" {
			if d.ReplyTo, err = parseID(p.ReplyTo, "replyTo"); err != nil {
				reply(nil, err)
				return
			}
		}
		if len(p.Attachments) > 100 {
			reply(nil, apperr.InvalidField("attachments", "too many files"))
			return
		}
		for _, a := range p.Attachments {
			id, err := parseID(a, "attachments")
			if err != nil {
				reply(nil, err)
				return
			}
			d.Attachments = append(d.Attachments, id)
		}
		start := time.Now()
		err = svc.Send(ctx, d, func(m model.Message, err error) {
			s.metrics.SendAcked(time.Since(start))
			if err != nil {
				s.countRefused(err)
				reply(nil, err)
				return
			}
			wm := wire.ToMessage(m)
			_ = c.Socket.Emit(wire.EventMessageSent, wm)
			reply(wire.NewMessageAck(wm), nil)
		})
		if err != nil {
			s.countRefused(err)
			reply(nil, err)
		}
	})

	// Edits and deletes write to Cassandra synchronously; they run off the socket's queue.
	on(s, wire.EventMessageEdit, func(ev context.Context, c *Conn, p wire.EditMessagePayload, reply Reply) {
		channelID, messageID, err := parseRef(p.MessageRef)
		if err != nil {
			reply(nil, err)
			return
		}
		offQueue(ev, reply, func(ctx context.Context) (wire.Ack, error) {
			m, err := svc.EditInSession(ctx, c.SessionID, c.UserID, channelID, messageID, p.Content, p.Encrypted)
			if err != nil {
				return nil, err
			}
			return wire.NewMessageAck(wire.ToMessage(m)), nil
		})
	})

	on(s, wire.EventMessageDelete, func(ev context.Context, c *Conn, p wire.MessageRef, reply Reply) {
		channelID, messageID, err := parseRef(p)
		if err != nil {
			reply(nil, err)
			return
		}
		offQueue(ev, reply, func(ctx context.Context) (wire.Ack, error) {
			return nil, svc.Delete(ctx, c.UserID, channelID, messageID)
		})
	})

	on(s, wire.EventMessagesSync, func(ev context.Context, c *Conn, p wire.SyncPayload, reply Reply) {
		since := make(map[int64]int64, len(p.Channels))
		for ch, last := range p.Channels {
			channelID, err := parseID(ch, "channels")
			if err != nil {
				reply(nil, err)
				return
			}
			var after int64
			if last != "" && last != "0" {
				if after, err = parseID(last, "channels"); err != nil {
					reply(nil, err)
					return
				}
			}
			since[channelID] = after
		}
		offQueue(ev, reply, func(ctx context.Context) (wire.Ack, error) {
			res, err := svc.Sync(ctx, c.UserID, since)
			if err != nil {
				return nil, err
			}
			out := wire.SyncResult{Messages: make(map[string][]wire.Message, len(res)), HasMore: make(map[string]bool, len(res))}
			for id, r := range res {
				out.Messages[wire.ID(id)] = wire.ToMessages(r.Messages)
				out.HasMore[wire.ID(id)] = r.HasMore
			}
			return wire.NewSyncAck(out), nil
		})
	})
}

// countRefused counts a send refused by back-pressure or the rate limit (the codes a client retries on).
func (s *Server) countRefused(err error) {
	if k := apperr.As(err).Kind; k == apperr.Unavailable || k == apperr.RateLimited {
		s.metrics.SendRefused(string(k))
	}
}

// Publisher side of messaging.

func (p *Publisher) MessageCreated(m model.Message) {
	p.emit(wire.EventMessageNew, wire.ToMessage(m), ChannelRoom(m.ChannelID))
}

func (p *Publisher) MessageUpdated(m model.Message) {
	p.emit(wire.EventMessageUpdated, wire.ToMessage(m), ChannelRoom(m.ChannelID))
}

func (p *Publisher) MessageDeleted(channelID, messageID int64) {
	p.emit(wire.EventMessageDeleted, wire.MessageDeletedEvent{ChannelID: wire.ID(channelID), MessageID: wire.ID(messageID)}, ChannelRoom(channelID))
}

// parseRef parses a {channelId, messageId} reference.
func parseRef(ref wire.MessageRef) (channelID, messageID int64, err error) {
	if channelID, err = parseID(ref.ChannelID, "channelId"); err != nil {
		return 0, 0, err
	}
	if messageID, err = parseID(ref.MessageID, "messageId"); err != nil {
		return 0, 0, err
	}
	return channelID, messageID, nil
}

// offQueue runs slow work (database reads and writes) on its own goroutine and answers through reply, so
// the socket's next events are not held up (a socket's events are handled one at a time).
// The work keeps the event's values (request id, trace span) but not its cancellation: the handler returns first.
func offQueue(ev context.Context, reply Reply, work func(ctx context.Context) (wire.Ack, error)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ev), handlerTimeout)
		defer cancel()
		reply(work(ctx))
	}()
}

func parseID(s, field string) (int64, error) { return wire.ParseID(s, field) }

// PinChanged announces a pin or unpin to the channel.
func (p *Publisher) PinChanged(channelID, messageID, userID int64, pinned bool) {
	p.emit(wire.EventPinUpdate, wire.PinUpdateEvent{ChannelID: wire.ID(channelID), MessageID: wire.ID(messageID), UserID: wire.ID(userID), Pinned: pinned},
		ChannelRoom(channelID))
}
