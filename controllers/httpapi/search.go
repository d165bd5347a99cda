package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/search"
)

// Searcher answers message searches (services/search).
type Searcher interface {
	Search(ctx context.Context, userID int64, req search.Request) (model.SearchResult, error)
}

// SearchHandlers serves GET /api/search.
type SearchHandlers struct {
	svc Searcher // nil: search is off (PARLEY_SEARCH_URLS=off)
	log *slog.Logger
}

func NewSearchHandlers(svc Searcher, log *slog.Logger) *SearchHandlers {
	return &SearchHandlers{svc: svc, log: log}
}

func (h *SearchHandlers) Routes(_ *gin.Engine, _, authed *gin.RouterGroup) {
	authed.GET("/search", h.search)
}

// search: GET /api/search?q=&serverId= | dms=true &before=&limit=&tzOffset=
func (h *SearchHandlers) search(c *gin.Context) {
	if h.svc == nil {
		fail(c, h.log, apperr.New(apperr.Unavailable, "search is not enabled on this server"))
		return
	}
	req := search.Request{Query: c.Query("q"), Limit: queryInt(c, "limit", 25)}
	if v := c.Query("serverId"); v != "" {
		id, err := parseID(v, "serverId")
		if err != nil {
			fail(c, h.log, err)
			return
		}
		req.Scope.ServerID = id
	}
	req.Scope.DMs = c.Query("dms") == "true"
	if req.Scope.DMs && req.Scope.ServerID != 0 {
		fail(c, h.log, apperr.InvalidField("dms", "search either a server (serverId) or your DMs (dms=true)"))
		return
	}
	if v := c.Query("before"); v != "" {
		id, err := parseID(v, "before")
		if err != nil {
			fail(c, h.log, err)
			return
		}
		req.BeforeID = id
	}
	if v := c.Query("tzOffset"); v != "" {
		// JavaScript's Date.getTimezoneOffset(): minutes behind UTC (UTC+2 is -120).
		m, err := strconv.Atoi(v)
		if err != nil || m < -14*60 || m > 14*60 {
			fail(c, h.log, apperr.InvalidField("tzOffset", "tzOffset is minutes behind UTC, -840 to 840"))
			return
		}
		req.TZOffset = -time.Duration(m) * time.Minute
	}
	res, err := h.svc.Search(c.Request.Context(), caller(c).UserID, req)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	out := wire.SearchResults{Results: make([]wire.SearchResult, 0, len(res.Hits)), Total: res.Total, TotalIsLowerBound: res.TotalIsLowerBound}
	for _, hit := range res.Hits {
		r := wire.SearchResult{Message: wire.ToMessage(hit.Message), Highlights: make([]wire.TextRange, 0, len(hit.Highlights))}
		for _, t := range hit.Highlights {
			r.Highlights = append(r.Highlights, wire.TextRange{Start: t.Start, End: t.End})
		}
		out.Results = append(out.Results, r)
	}
	if n := len(res.Hits); n > 0 && n >= clampLimit(req.Limit) {
		next := wire.ID(res.Hits[n-1].Message.ID)
		out.Next = &next
	}
	c.JSON(http.StatusOK, out)
}

func clampLimit(l int) int {
	if l <= 0 || l > 100 {
		return 25
	}
	return l
}
