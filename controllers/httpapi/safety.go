package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/community"
)

// SafetyService is what the moderation and privacy handlers need: invite lists, bans, closing DMs, blocks and
// who may open a DM with the caller.
type SafetyService interface {
	Invites(ctx context.Context, caller, serverID int64) ([]community.InviteView, error)
	RevokeInvite(ctx context.Context, caller, serverID int64, code string) error
	Ban(ctx context.Context, caller, serverID, target int64, reason string) error
	Bans(ctx context.Context, caller, serverID int64) ([]model.Ban, error)
	Unban(ctx context.Context, caller, serverID, target int64) error
	CloseDM(ctx context.Context, caller, channelID int64) (bool, error)
	Block(ctx context.Context, caller, target int64) error
	Unblock(ctx context.Context, caller, target int64) error
	Blocked(ctx context.Context, caller int64) ([]model.User, error)
	DMPolicy(ctx context.Context, caller int64) (string, error)
	SetDMPolicy(ctx context.Context, caller int64, policy string) (string, error)
}

// SafetyHandlers serves /servers/:id/invites (list, revoke), /servers/:id/bans, DELETE /dms/:id, /me/blocks and
// /me/privacy.
type SafetyHandlers struct {
	svc SafetyService
	log *slog.Logger
}

func NewSafetyHandlers(svc SafetyService, log *slog.Logger) *SafetyHandlers {
	return &SafetyHandlers{svc: svc, log: log}
}

func (h *SafetyHandlers) run(c *gin.Context, status int, fn func(ids map[string]int64) (any, error), params ...string) {
	runWithIDs(c, h.log, status, fn, params...)
}

// Routes registers the handlers on the authenticated group.
func (h *SafetyHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/servers/:id/invites", h.listInvites)
	authed.DELETE("/servers/:id/invites/:code", h.revokeInvite)
	authed.GET("/servers/:id/bans", h.listBans)
	authed.PUT("/servers/:id/bans/:userId", h.ban)
	authed.DELETE("/servers/:id/bans/:userId", h.unban)
	authed.DELETE("/dms/:id", h.closeDM)
	authed.GET("/me/blocks", h.listBlocks)
	authed.PUT("/me/blocks/:userId", h.block)
	authed.DELETE("/me/blocks/:userId", h.unblock)
	authed.GET("/me/privacy", h.getPrivacy)
	authed.PUT("/me/privacy", h.putPrivacy)
}

func (h *SafetyHandlers) listInvites(c *gin.Context) {
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		vs, err := h.svc.Invites(c.Request.Context(), caller(c).UserID, ids["id"])
		out := make([]wire.ListedInvite, 0, len(vs))
		for _, v := range vs {
			li := wire.ListedInvite{Invite: wire.ToInvite(v.Invite)}
			if v.Creator.ID != 0 {
				u := wire.ToUser(v.Creator)
				li.Creator = &u
			}
			out = append(out, li)
		}
		return gin.H{"invites": out}, err
	}, "id")
}

func (h *SafetyHandlers) revokeInvite(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.RevokeInvite(c.Request.Context(), caller(c).UserID, ids["id"], c.Param("code"))
	}, "id")
}

func (h *SafetyHandlers) listBans(c *gin.Context) {
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		bans, err := h.svc.Bans(c.Request.Context(), caller(c).UserID, ids["id"])
		out := make([]wire.Ban, 0, len(bans))
		for _, b := range bans {
			out = append(out, wire.ToBan(b))
		}
		return gin.H{"bans": out}, err
	}, "id")
}

func (h *SafetyHandlers) ban(c *gin.Context) {
	var body struct {
		Reason string `json:"reason"`
	}
	if c.Request.ContentLength != 0 {
		if err := bind(c, &body); err != nil {
			fail(c, h.log, err)
			return
		}
	}
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.Ban(c.Request.Context(), caller(c).UserID, ids["id"], ids["userId"], body.Reason)
	}, "id", "userId")
}

func (h *SafetyHandlers) unban(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.Unban(c.Request.Context(), caller(c).UserID, ids["id"], ids["userId"])
	}, "id", "userId")
}

func (h *SafetyHandlers) closeDM(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		_, err := h.svc.CloseDM(c.Request.Context(), caller(c).UserID, ids["id"])
		return nil, err
	}, "id")
}

func (h *SafetyHandlers) listBlocks(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		us, err := h.svc.Blocked(c.Request.Context(), caller(c).UserID)
		return gin.H{"users": wire.ToUsers(us)}, err
	})
}

func (h *SafetyHandlers) block(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.Block(c.Request.Context(), caller(c).UserID, ids["userId"])
	}, "userId")
}

func (h *SafetyHandlers) unblock(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.Unblock(c.Request.Context(), caller(c).UserID, ids["userId"])
	}, "userId")
}

type privacy struct {
	AllowDMsFrom string `json:"allowDMsFrom"`
}

func (h *SafetyHandlers) getPrivacy(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		p, err := h.svc.DMPolicy(c.Request.Context(), caller(c).UserID)
		return privacy{AllowDMsFrom: p}, err
	})
}

func (h *SafetyHandlers) putPrivacy(c *gin.Context) {
	var body privacy
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		p, err := h.svc.SetDMPolicy(c.Request.Context(), caller(c).UserID, body.AllowDMsFrom)
		return privacy{AllowDMsFrom: p}, err
	})
}
