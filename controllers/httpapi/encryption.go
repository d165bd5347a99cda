package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
)

// EncryptionService turns end-to-end encryption on for a DM (services/dmencryption).
type EncryptionService interface {
	Enable(ctx context.Context, caller, channelID int64) (model.Channel, error)
}

// EncryptionHandlers serves PUT /api/dms/:id/encryption.
type EncryptionHandlers struct {
	svc EncryptionService
	log *slog.Logger
}

func NewEncryptionHandlers(svc EncryptionService, log *slog.Logger) *EncryptionHandlers {
	return &EncryptionHandlers{svc: svc, log: log}
}

func (h *EncryptionHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.PUT("/dms/:id/encryption", h.enable)
}

// enable answers the DM (participants, encrypted: true; no read state); idempotent, and there is no way back.
func (h *EncryptionHandlers) enable(c *gin.Context) {
	runWithIDs(c, h.log, http.StatusOK, func(ids map[string]int64) (any, error) {
		ch, err := h.svc.Enable(c.Request.Context(), caller(c).UserID, ids["id"])
		if err != nil {
			return nil, err
		}
		return wire.ToChannel(ch, model.ChannelMeta{}, 0, 0, 0), nil
	}, "id")
}
