package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/attachments"
)

// AvatarStore keeps avatar images (the attachments service, on the same object store).
type AvatarStore interface {
	Avatar(ctx context.Context, u attachments.Upload) (string, error)
	OpenAvatar(ctx context.Context, name string) (io.ReadCloser, int64, error)
	DeleteAvatar(ctx context.Context, path string)
}

// Profiles updates a user's avatar URL (auth).
type Profiles interface {
	Me(ctx context.Context, userID int64) (model.User, error)
	UpdateProfile(ctx context.Context, userID int64, displayName, avatarURL *string) (model.User, error)
}

// ServerIcons sets a server's icon path (community: owners and admins only) and returns the one it replaced.
type ServerIcons interface {
	SetServerIcon(ctx context.Context, caller, serverID int64, iconURL string) (model.Server, string, error)
}

// AvatarHandlers upload, clear and serve avatars and server icons (the same kind of image, stored alike).
type AvatarHandlers struct {
	store    AvatarStore
	profiles Profiles
	servers  ServerIcons
	log      *slog.Logger
}

func NewAvatarHandlers(store AvatarStore, profiles Profiles, servers ServerIcons, log *slog.Logger) *AvatarHandlers {
	return &AvatarHandlers{store: store, profiles: profiles, servers: servers, log: log}
}

func (h *AvatarHandlers) Routes(e *gin.Engine, _, authed *gin.RouterGroup) {
	authed.PUT("/users/me/avatar", h.put)
	authed.DELETE("/users/me/avatar", h.del)
	authed.PUT("/servers/:id/icon", h.putIcon)
	authed.DELETE("/servers/:id/icon", h.delIcon)
	e.GET("/avatars/:name", h.get)
	e.HEAD("/avatars/:name", h.get)
}

// put stores the body as the caller's avatar: PUT /api/users/me/avatar, the image's raw bytes as the body.
func (h *AvatarHandlers) put(c *gin.Context) {
	me := caller(c).UserID
	old, err := h.profiles.Me(c.Request.Context(), me)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	path, err := h.store.Avatar(c.Request.Context(), attachments.Upload{UserID: me, Size: c.Request.ContentLength, Body: c.Request.Body})
	if err != nil {
		if c.Request.ContentLength > 0 {
			c.Header("Connection", "close")
		}
		fail(c, h.log, err)
		return
	}
	u, err := h.profiles.UpdateProfile(c.Request.Context(), me, nil, &path)
	if err != nil {
		h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), path)
		fail(c, h.log, err)
		return
	}
	h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), old.AvatarURL)
	c.JSON(http.StatusOK, wire.ToMe(u))
}

func (h *AvatarHandlers) del(c *gin.Context) {
	me := caller(c).UserID
	old, err := h.profiles.Me(c.Request.Context(), me)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	empty := ""
	u, err := h.profiles.UpdateProfile(c.Request.Context(), me, nil, &empty)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), old.AvatarURL)
	c.JSON(http.StatusOK, wire.ToMe(u))
}

// putIcon stores the body as a server's icon: PUT /api/servers/:id/icon, the image's raw bytes as the body.
func (h *AvatarHandlers) putIcon(c *gin.Context) {
	serverID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	me := caller(c).UserID
	path, err := h.store.Avatar(c.Request.Context(), attachments.Upload{UserID: me, Size: c.Request.ContentLength, Body: c.Request.Body})
	if err != nil {
		if c.Request.ContentLength > 0 {
			c.Header("Connection", "close")
		}
		fail(c, h.log, err)
		return
	}
	srv, old, err := h.servers.SetServerIcon(c.Request.Context(), me, serverID, path)
	if err != nil {
		h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), path) // not allowed after all: keep no orphan
		fail(c, h.log, err)
		return
	}
	h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), old)
	c.JSON(http.StatusOK, wire.ToServer(srv))
}

func (h *AvatarHandlers) delIcon(c *gin.Context) {
	serverID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	srv, old, err := h.servers.SetServerIcon(c.Request.Context(), caller(c).UserID, serverID, "")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.store.DeleteAvatar(context.WithoutCancel(c.Request.Context()), old)
	c.JSON(http.StatusOK, wire.ToServer(srv))
}

// get serves an avatar to anyone (avatars are public, as in Discord): a PNG the server made, under a name that
// changes with every upload, so it may be cached for good.
func (h *AvatarHandlers) get(c *gin.Context) {
	rc, size, err := h.store.OpenAvatar(c.Request.Context(), c.Param("name"))
	if err != nil {
		fail(c, h.log, err)
		return
	}
	defer rc.Close()
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", FileCSP)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	if rs, ok := rc.(io.ReadSeeker); ok {
		hd.Set("Content-Type", "image/png")
		http.ServeContent(c.Writer, c.Request, "", time.Time{}, rs)
		return
	}
	c.DataFromReader(http.StatusOK, size, "image/png", rc, nil)
}
