package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/reactions"
)

// ReactionReader gives the reactions of a page of messages as the caller sees them (history pages).
type ReactionReader interface {
	ForMessages(ctx context.Context, userID, channelID int64, messageIDs []int64) (map[int64][]reactions.Summary, error)
}

// ReactionService is what the reaction endpoints need.
type ReactionService interface {
	Users(ctx context.Context, userID, channelID, messageID int64, emoji string, after int64, limit int) ([]int64, bool, error)
}

// UserLookup resolves user ids to profiles (auth.Service).
type UserLookup interface {
	Users(ctx context.Context, ids []int64) ([]model.User, error)
}

// ReactionHandlers serves who reacted to a message.
type ReactionHandlers struct {
	svc   ReactionService
	users UserLookup
	log   *slog.Logger
}

func NewReactionHandlers(svc ReactionService, users UserLookup, log *slog.Logger) *ReactionHandlers {
	return &ReactionHandlers{svc: svc, users: users, log: log}
}

func (h *ReactionHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/channels/:id/messages/:messageId/reactions", h.reacted)
}

// reacted: GET /api/channels/:id/messages/:messageId/reactions?emoji=&after=<userId>&limit= → {users, hasMore},
// ordered by user id.
func (h *ReactionHandlers) reacted(c *gin.Context) {
	channelID, messageID, err := messageRef(c)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	var after int64
	if v := c.Query("after"); v != "" {
		if after, err = parseID(v, "after"); err != nil {
			fail(c, h.log, err)
			return
		}
	}
	ctx := c.Request.Context()
	ids, more, err := h.svc.Users(ctx, caller(c).UserID, channelID, messageID, c.Query("emoji"), after, queryInt(c, "limit", 50))
	if err != nil {
		fail(c, h.log, err)
		return
	}
	users := []wire.User{}
	if len(ids) > 0 {
		found, err := h.users.Users(ctx, ids)
		if err != nil {
			fail(c, h.log, err)
			return
		}
		byID := make(map[int64]model.User, len(found))
		for _, u := range found {
			byID[u.ID] = u
		}
		for _, id := range ids {
			if u, ok := byID[id]; ok { // a deleted account is left out
				users = append(users, wire.ToUser(u))
			}
		}
	}
	c.JSON(http.StatusOK, gin.H{"users": users, "hasMore": more})
}
