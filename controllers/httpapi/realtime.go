package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
)

// PresenceReader answers presence queries.
type PresenceReader interface {
	Get(ctx context.Context, caller int64, userIDs []int64) ([]model.Presence, error)
}

// ReceiptReader lists read and delivery positions.
type ReceiptReader interface {
	Receipts(ctx context.Context, userID, channelID int64) ([]model.ReadState, error)
}

// RealtimeHandlers serves the initial state of presence and receipts (changes then arrive over the socket).
type RealtimeHandlers struct {
	presence PresenceReader
	receipts ReceiptReader
	log      *slog.Logger
}

func NewRealtimeHandlers(presence PresenceReader, receipts ReceiptReader, log *slog.Logger) *RealtimeHandlers {
	return &RealtimeHandlers{presence: presence, receipts: receipts, log: log}
}

func (h *RealtimeHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/presence", h.getPresence)
	authed.GET("/channels/:id/receipts", h.getReceipts)
}

// getPresence: GET /api/presence?userIds=1,2,3
func (h *RealtimeHandlers) getPresence(c *gin.Context) {
	raw := strings.Split(c.Query("userIds"), ",")
	ids := make([]int64, 0, len(raw))
	for _, r := range raw {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		id, err := parseID(r, "userIds")
		if err != nil {
			fail(c, h.log, err)
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		fail(c, h.log, apperr.InvalidField("userIds", "userIds must list at least one id"))
		return
	}
	ps, err := h.presence.Get(c.Request.Context(), caller(c).UserID, ids)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	out := make([]wire.Presence, 0, len(ps))
	for _, p := range ps {
		out = append(out, wire.ToPresence(p))
	}
	c.JSON(http.StatusOK, gin.H{"presence": out})
}

// getReceipts: GET /api/channels/:id/receipts
func (h *RealtimeHandlers) getReceipts(c *gin.Context) {
	channelID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	rs, err := h.receipts.Receipts(c.Request.Context(), caller(c).UserID, channelID)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	out := make([]wire.Receipt, 0, len(rs))
	for _, r := range rs {
		out = append(out, wire.ToReceipt(r))
	}
	c.JSON(http.StatusOK, gin.H{"receipts": out})
}
