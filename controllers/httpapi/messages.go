package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
)

// HistoryService is what the history endpoints need.
type HistoryService interface {
	History(ctx context.Context, userID, channelID int64, q messaging.Query) (messaging.Page, error)
	Get(ctx context.Context, userID, channelID, messageID int64) (model.Message, error)
	Pin(ctx context.Context, userID, channelID, messageID int64) error
	Unpin(ctx context.Context, userID, channelID, messageID int64) error
	Pins(ctx context.Context, userID, channelID int64) ([]model.Message, error)
}

// ReadMarker tells which of a user's own messages others have read (optional; nil until read state exists).
type ReadMarker interface {
	ReadUpTo(ctx context.Context, userID, channelID int64) (int64, error)
}

// MessageHandlers serves message history.
type MessageHandlers struct {
	svc       HistoryService
	reads     ReadMarker
	reactions ReactionReader // optional
	log       *slog.Logger
}

func NewMessageHandlers(svc HistoryService, reads ReadMarker, log *slog.Logger) *MessageHandlers {
	return &MessageHandlers{svc: svc, reads: reads, log: log}
}

// WithReactions adds each message's reactions to history pages.
func (h *MessageHandlers) WithReactions(r ReactionReader) *MessageHandlers {
	h.reactions = r
	return h
}

func (h *MessageHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/channels/:id/messages", h.history)
	authed.GET("/channels/:id/messages/:messageId", h.one)
	authed.GET("/channels/:id/pins", h.listPins)
	authed.PUT("/channels/:id/pins/:messageId", h.pin)
	authed.DELETE("/channels/:id/pins/:messageId", h.pin)
	authed.GET("/messages", h.seedHistory)
}

func (h *MessageHandlers) query(c *gin.Context) (messaging.Query, error) {
	var q messaging.Query
	for name, dst := range map[string]*int64{"before": &q.Before, "after": &q.After, "around": &q.Around} {
		if v := c.Query(name); v != "" {
			id, err := parseID(v, name)
			if err != nil {
				return q, err
			}
			*dst = id
		}
	}
	q.Limit = queryInt(c, "limit", 50)
	return q, nil
}

// one: GET /api/channels/:id/messages/:messageId (a reply's original; 404 once deleted)
func (h *MessageHandlers) one(c *gin.Context) {
	channelID, messageID, err := messageRef(c)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	m, err := h.svc.Get(c.Request.Context(), caller(c).UserID, channelID, messageID)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": wire.ToMessage(m)})
}

// listPins: GET /api/channels/:id/pins (most recently pinned first)
func (h *MessageHandlers) listPins(c *gin.Context) {
	channelID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	ms, err := h.svc.Pins(c.Request.Context(), caller(c).UserID, channelID)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"messages": wire.ToMessages(ms)})
}

// pin: PUT (pin) or DELETE (unpin) /api/channels/:id/pins/:messageId
func (h *MessageHandlers) pin(c *gin.Context) {
	channelID, messageID, err := messageRef(c)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	op := h.svc.Pin
	if c.Request.Method == http.MethodDelete {
		op = h.svc.Unpin
	}
	if err := op(c.Request.Context(), caller(c).UserID, channelID, messageID); err != nil {
		fail(c, h.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// history: GET /api/channels/:id/messages?before=&after=&around=&limit=
func (h *MessageHandlers) history(c *gin.Context) {
	channelID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.page(c, channelID)
}

// seedHistory: GET /api/messages?channelId=&before=&limit= (the shape the seed apps use).
func (h *MessageHandlers) seedHistory(c *gin.Context) {
	channelID, err := parseID(c.Query("channelId"), "channelId")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.page(c, channelID)
}

func (h *MessageHandlers) page(c *gin.Context, channelID int64) {
	q, err := h.query(c)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	me := caller(c).UserID
	p, err := h.svc.History(c.Request.Context(), me, channelID, q)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	msgs := wire.ToMessages(p.Messages)
	if h.reads != nil {
		if upTo, err := h.reads.ReadUpTo(c.Request.Context(), me, channelID); err == nil {
			for i := range msgs {
				if p.Messages[i].SenderID == me {
					read := p.Messages[i].ID <= upTo
					msgs[i].Read = &read
				}
			}
		}
	}
	if h.reactions != nil && len(p.Messages) > 0 {
		ids := make([]int64, len(p.Messages))
		for i, m := range p.Messages {
			ids[i] = m.ID
		}
		// Reactions are decoration: if MongoDB cannot answer, the page goes out without them (the field is then
		// absent, and clients keep what they had).
		if rs, err := h.reactions.ForMessages(c.Request.Context(), me, channelID, ids); err == nil {
			for i := range msgs {
				msgs[i].Reactions = wire.ToReactions(rs[p.Messages[i].ID])
			}
		} else {
			h.log.WarnContext(c.Request.Context(), "history without reactions", "channel", channelID, "err", err)
		}
	}
	c.JSON(http.StatusOK, gin.H{"messages": msgs, "hasMore": p.HasMore})
}

// messageRef parses the :id and :messageId path parameters.
func messageRef(c *gin.Context) (channelID, messageID int64, err error) {
	if channelID, err = parseID(c.Param("id"), "id"); err != nil {
		return 0, 0, err
	}
	messageID, err = parseID(c.Param("messageId"), "messageId")
	return channelID, messageID, err
}
