package socketapi

import (
	"context"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/services/reactions"
)

// ReactionService is what the reaction events need.
type ReactionService interface {
	Add(ctx context.Context, userID, channelID, messageID int64, emoji string) (reactions.Summary, error)
	Remove(ctx context.Context, userID, channelID, messageID int64, emoji string) (reactions.Summary, error)
}

// reactionEvents registers reaction:add and reaction:remove. Both may read MongoDB and Cassandra (the
// message's existence, its stored reactions), so they run off the socket's queue. The ack carries the emoji's
// reactions as the caller now sees them: {ok: true, reaction: Reaction}.
func (s *Server) reactionEvents(svc ReactionService) {
	handle := func(change func(ctx context.Context, userID, channelID, messageID int64, emoji string) (reactions.Summary, error)) Handler[wire.ReactionPayload] {
		return func(ev context.Context, c *Conn, p wire.ReactionPayload, reply Reply) {
			channelID, messageID, err := parseRef(wire.MessageRef{ChannelID: p.ChannelID, MessageID: p.MessageID})
			if err != nil {
				reply(nil, err)
				return
			}
			offQueue(ev, reply, func(ctx context.Context) (wire.Ack, error) {
				sum, err := change(ctx, c.UserID, channelID, messageID, p.Emoji)
				if err != nil {
					return nil, err
				}
				return wire.NewReactionAck(wire.ToReaction(sum)), nil
			})
		}
	}
	on(s, wire.EventReactionAdd, handle(svc.Add))
	on(s, wire.EventReactionRemove, handle(svc.Remove))
}

// ReactionChanged announces a reaction to the channel's room (reactions.Notifier). With several nodes the
// broadcast crosses to the others through the adapter, like every room event.
func (p *Publisher) ReactionChanged(u reactions.Update) {
	action := "remove"
	if u.Added {
		action = "add"
	}
	p.emit(wire.EventReactionUpdate, wire.ReactionUpdateEvent{ChannelID: wire.ID(u.ChannelID), MessageID: wire.ID(u.MessageID),
		Emoji: u.Emoji, Count: u.Count, UserID: wire.ID(u.UserID), Action: action, UserIDs: wire.IDs(u.UserIDs)}, ChannelRoom(u.ChannelID))
}
