package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/community"
)

// CommunityService is what the server, channel, invite and DM handlers need.
type CommunityService interface {
	CreateServer(ctx context.Context, caller int64, name string) (model.Server, error)
	Servers(ctx context.Context, caller int64) ([]model.Server, error)
	Server(ctx context.Context, caller, serverID int64) (model.Server, error)
	UpdateServer(ctx context.Context, caller, serverID int64, name *string, membersCanInvite *bool) (model.Server, error)
	DeleteServer(ctx context.Context, caller, serverID int64) error
	CreateInvite(ctx context.Context, caller, serverID int64, maxUses, expiresInSeconds *int) (model.Invite, error)
	PreviewInvite(ctx context.Context, code string) (community.InvitePreview, error)
	JoinInvite(ctx context.Context, caller int64, code string) (model.Server, error)
	Members(ctx context.Context, caller, serverID, after int64, limit int) ([]model.Member, bool, error)
	Leave(ctx context.Context, caller, serverID int64) error
	Kick(ctx context.Context, caller, serverID, target int64) error
	SetRole(ctx context.Context, caller, serverID, target int64, role string) (model.Member, error)
	Channels(ctx context.Context, caller, serverID int64) ([]model.ChannelView, error)
	CreateChannel(ctx context.Context, caller, serverID int64, name, topic string) (model.ChannelView, error)
	UpdateChannel(ctx context.Context, caller, channelID int64, name, topic *string) (model.ChannelView, error)
	DeleteChannel(ctx context.Context, caller, channelID int64) error
	CreateDM(ctx context.Context, caller int64, others []int64) (model.ChannelView, bool, error)
	DMs(ctx context.Context, caller int64, reads community.ReadStates) ([]model.ChannelView, error)
}

// ReadStates adds the caller's read position and unread counts to channel views. The community service cannot
// hold it (the read state service depends on community), so channel lists are combined here.
type ReadStates interface {
	Annotate(ctx context.Context, userID int64, views []model.ChannelView) error
}

// CommunityHandlers serves servers, invites, members, channels and DMs.
type CommunityHandlers struct {
	svc   CommunityService
	reads ReadStates
	log   *slog.Logger
}

func NewCommunityHandlers(svc CommunityService, reads ReadStates, log *slog.Logger) *CommunityHandlers {
	return &CommunityHandlers{svc: svc, reads: reads, log: log}
}

// annotate adds the caller's read state to views the community service returned.
func (h *CommunityHandlers) annotate(ctx context.Context, userID int64, vs []model.ChannelView, err error) error {
	if err != nil {
		return err
	}
	if err := h.reads.Annotate(ctx, userID, vs); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "could not load read state")
	}
	return nil
}

// Routes registers the handlers: public ones on api, the rest on the authenticated group.
func (h *CommunityHandlers) Routes(_ *gin.Engine, api, authed *gin.RouterGroup) {
	api.GET("/invites/:code", h.previewInvite)
	authed.POST("/servers", h.createServer)
	authed.GET("/servers", h.listServers)
	authed.GET("/servers/:id", h.getServer)
	authed.PATCH("/servers/:id", h.patchServer)
	authed.DELETE("/servers/:id", h.deleteServer)
	authed.POST("/servers/:id/invites", h.createInvite)
	authed.POST("/invites/:code/join", h.joinInvite)
	authed.GET("/servers/:id/members", h.listMembers)
	authed.DELETE("/servers/:id/members/:userId", h.removeMember)
	authed.PATCH("/servers/:id/members/:userId", h.patchMember)
	authed.GET("/servers/:id/channels", h.listChannels)
	authed.POST("/servers/:id/channels", h.createChannel)
	authed.PATCH("/channels/:id", h.patchChannel)
	authed.DELETE("/channels/:id", h.deleteChannel)
	authed.POST("/dms", h.createDM)
	authed.GET("/dms", h.listDMs)
}

func toChannel(v model.ChannelView) wire.Channel {
	return wire.ToChannel(v.Channel, v.Meta, v.LastReadID, v.UnreadCount, v.MentionCount)
}

func toChannels(vs []model.ChannelView) []wire.Channel {
	out := make([]wire.Channel, 0, len(vs))
	for _, v := range vs {
		out = append(out, toChannel(v))
	}
	return out
}

func (h *CommunityHandlers) run(c *gin.Context, status int, fn func(ids map[string]int64) (any, error), params ...string) {
	runWithIDs(c, h.log, status, fn, params...)
}

// runWithIDs parses path ids, calls fn, and writes its answer (204 for nil) or error.
func runWithIDs(c *gin.Context, log *slog.Logger, status int, fn func(ids map[string]int64) (any, error), params ...string) {
	ids := map[string]int64{}
	for _, p := range params {
		id, err := parseID(c.Param(p), p)
		if err != nil {
			fail(c, log, err)
			return
		}
		ids[p] = id
	}
	res, err := fn(ids)
	if err != nil {
		fail(c, log, err)
		return
	}
	if res == nil {
		c.Status(http.StatusNoContent)
		return
	}
	c.JSON(status, res)
}

func (h *CommunityHandlers) createServer(c *gin.Context) {
	var body struct{ Name string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusCreated, func(map[string]int64) (any, error) {
		s, err := h.svc.CreateServer(c.Request.Context(), caller(c).UserID, body.Name)
		return wire.ToServer(s), err
	})
}

func (h *CommunityHandlers) listServers(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		ss, err := h.svc.Servers(c.Request.Context(), caller(c).UserID)
		out := make([]wire.Server, 0, len(ss))
		for _, s := range ss {
			out = append(out, wire.ToServer(s))
		}
		return gin.H{"servers": out}, err
	})
}

func (h *CommunityHandlers) getServer(c *gin.Context) {
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		s, err := h.svc.Server(c.Request.Context(), caller(c).UserID, ids["id"])
		return wire.ToServer(s), err
	}, "id")
}

func (h *CommunityHandlers) patchServer(c *gin.Context) {
	var body struct {
		Name             *string `json:"name"`
		MembersCanInvite *bool   `json:"membersCanInvite"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		s, err := h.svc.UpdateServer(c.Request.Context(), caller(c).UserID, ids["id"], body.Name, body.MembersCanInvite)
		return wire.ToServer(s), err
	}, "id")
}

func (h *CommunityHandlers) deleteServer(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.DeleteServer(c.Request.Context(), caller(c).UserID, ids["id"])
	}, "id")
}

func (h *CommunityHandlers) createInvite(c *gin.Context) {
	var body struct {
		MaxUses          *int `json:"maxUses"`
		ExpiresInSeconds *int `json:"expiresInSeconds"`
	}
	if c.Request.ContentLength != 0 {
		if err := bind(c, &body); err != nil {
			fail(c, h.log, err)
			return
		}
	}
	h.run(c, http.StatusCreated, func(ids map[string]int64) (any, error) {
		inv, err := h.svc.CreateInvite(c.Request.Context(), caller(c).UserID, ids["id"], body.MaxUses, body.ExpiresInSeconds)
		return wire.ToInvite(inv), err
	}, "id")
}

func (h *CommunityHandlers) previewInvite(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		p, err := h.svc.PreviewInvite(c.Request.Context(), c.Param("code"))
		return gin.H{"code": p.Invite.Code, "expiresAt": p.Invite.ExpiresAt,
			"server": gin.H{"id": wire.ID(p.Server.ID), "name": p.Server.Name, "memberCount": p.Server.MemberCount}}, err
	})
}

func (h *CommunityHandlers) joinInvite(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		s, err := h.svc.JoinInvite(c.Request.Context(), caller(c).UserID, c.Param("code"))
		return wire.ToServer(s), err
	})
}

func (h *CommunityHandlers) listMembers(c *gin.Context) {
	var after int64
	if a := c.Query("after"); a != "" {
		id, err := parseID(a, "after")
		if err != nil {
			fail(c, h.log, err)
			return
		}
		after = id
	}
	limit := queryInt(c, "limit", 50)
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		ms, more, err := h.svc.Members(c.Request.Context(), caller(c).UserID, ids["id"], after, limit)
		out := make([]wire.Member, 0, len(ms))
		for _, m := range ms {
			out = append(out, wire.ToMember(m))
		}
		return gin.H{"members": out, "hasMore": more}, err
	}, "id")
}

func (h *CommunityHandlers) removeMember(c *gin.Context) {
	me := caller(c).UserID
	if c.Param("userId") == "me" {
		h.run(c, 0, func(ids map[string]int64) (any, error) {
			return nil, h.svc.Leave(c.Request.Context(), me, ids["id"])
		}, "id")
		return
	}
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		if ids["userId"] == me {
			return nil, h.svc.Leave(c.Request.Context(), me, ids["id"])
		}
		return nil, h.svc.Kick(c.Request.Context(), me, ids["id"], ids["userId"])
	}, "id", "userId")
}

func (h *CommunityHandlers) patchMember(c *gin.Context) {
	var body struct{ Role string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		m, err := h.svc.SetRole(c.Request.Context(), caller(c).UserID, ids["id"], ids["userId"], body.Role)
		return wire.ToMember(m), err
	}, "id", "userId")
}

func (h *CommunityHandlers) listChannels(c *gin.Context) {
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		ctx, userID := c.Request.Context(), caller(c).UserID
		vs, err := h.svc.Channels(ctx, userID, ids["id"])
		if err = h.annotate(ctx, userID, vs, err); err != nil {
			return nil, err
		}
		return gin.H{"channels": toChannels(vs)}, nil
	}, "id")
}

func (h *CommunityHandlers) createChannel(c *gin.Context) {
	var body struct{ Name, Topic string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusCreated, func(ids map[string]int64) (any, error) {
		v, err := h.svc.CreateChannel(c.Request.Context(), caller(c).UserID, ids["id"], body.Name, body.Topic)
		return toChannel(v), err
	}, "id")
}

func (h *CommunityHandlers) patchChannel(c *gin.Context) {
	var body struct {
		Name  *string `json:"name"`
		Topic *string `json:"topic"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	h.run(c, http.StatusOK, func(ids map[string]int64) (any, error) {
		ctx, userID := c.Request.Context(), caller(c).UserID
		v, err := h.svc.UpdateChannel(ctx, userID, ids["id"], body.Name, body.Topic)
		vs := []model.ChannelView{v}
		if err = h.annotate(ctx, userID, vs, err); err != nil {
			return nil, err
		}
		return toChannel(vs[0]), nil
	}, "id")
}

func (h *CommunityHandlers) deleteChannel(c *gin.Context) {
	h.run(c, 0, func(ids map[string]int64) (any, error) {
		return nil, h.svc.DeleteChannel(c.Request.Context(), caller(c).UserID, ids["id"])
	}, "id")
}

func (h *CommunityHandlers) createDM(c *gin.Context) {
	var body struct {
		UserIDs []string `json:"userIds"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	others := make([]int64, 0, len(body.UserIDs))
	for _, s := range body.UserIDs {
		id, err := parseID(s, "userIds")
		if err != nil {
			fail(c, h.log, err)
			return
		}
		others = append(others, id)
	}
	ctx, userID := c.Request.Context(), caller(c).UserID
	v, created, err := h.svc.CreateDM(ctx, userID, others)
	vs := []model.ChannelView{v}
	if err = h.annotate(ctx, userID, vs, err); err != nil {
		fail(c, h.log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, toChannel(vs[0]))
}

func (h *CommunityHandlers) listDMs(c *gin.Context) {
	h.run(c, http.StatusOK, func(map[string]int64) (any, error) {
		vs, err := h.svc.DMs(c.Request.Context(), caller(c).UserID, h.reads)
		return gin.H{"channels": toChannels(vs)}, err
	})
}
