package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
)

// SettingsService reads and writes a user's notification settings.
type SettingsService interface {
	Get(ctx context.Context, userID int64) (model.UserSettings, error)
	Put(ctx context.Context, userID int64, s model.UserSettings) (model.UserSettings, error)
}

// SettingsHandlers serves /api/me/settings.
type SettingsHandlers struct {
	svc SettingsService
	log *slog.Logger
}

func NewSettingsHandlers(svc SettingsService, log *slog.Logger) *SettingsHandlers {
	return &SettingsHandlers{svc: svc, log: log}
}

func (h *SettingsHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/me/settings", h.get)
	authed.PUT("/me/settings", h.put)
}

func (h *SettingsHandlers) get(c *gin.Context) {
	st, err := h.svc.Get(c.Request.Context(), caller(c).UserID)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, wire.ToSettings(st))
}

func (h *SettingsHandlers) put(c *gin.Context) {
	var body wire.Settings
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	st, err := wire.FromSettings(body)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	if st, err = h.svc.Put(c.Request.Context(), caller(c).UserID, st); err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, wire.ToSettings(st))
}
