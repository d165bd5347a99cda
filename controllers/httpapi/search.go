package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
	"github.com/parleychat/parley/services/search"
)

// Searcher answers message searches (services/search).
type Searcher interface {
	Search(ctx context.Context, userID int64, req search.Request) (model.SearchResult, error)
}

// ContextReader reads the messages around a result (messaging's history, with its own access check).
type ContextReader interface {
	History(ctx context.Context, userID, channelID int64, q messaging.Query) (messaging.Page, error)
}

// SearchHandlers serves GET /api/search.
type SearchHandlers struct {
	svc     Searcher      // nil: search is off (PARLEY_SEARCH_URLS=off)
	context ContextReader // optional: ?context=
	log     *slog.Logger
}

func NewSearchHandlers(svc Searcher, log *slog.Logger) *SearchHandlers {
	return &SearchHandlers{svc: svc, log: log}
}

// WithContext lets results carry the messages around them (?context=1..3).
func (h *SearchHandlers) WithContext(r ContextReader) *SearchHandlers {
	h.context = r
	return h
}

// maxContext bounds ?context=: each result costs two history reads (memory or one Cassandra range read each).
const maxContext = 3

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
	around := queryInt(c, "context", 0)
	if around < 0 || around > maxContext {
		fail(c, h.log, apperr.InvalidField("context", "context is 0 to 3 messages on each side"))
		return
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
	if around > 0 && h.context != nil {
		h.addContext(c.Request.Context(), caller(c).UserID, around, out.Results)
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

// addContext reads up to n messages before and after each result, eight results at a time. A result whose
// context cannot be read is shown without it: context is a courtesy, the result is the answer.
func (h *SearchHandlers) addContext(ctx context.Context, userID int64, n int, results []wire.SearchResult) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range results {
		r := &results[i]
		channelID, err1 := strconv.ParseInt(r.Message.ChannelID, 10, 64)
		messageID, err2 := strconv.ParseInt(r.Message.ID, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			before, err := h.context.History(ctx, userID, channelID, messaging.Query{Before: messageID, Limit: n})
			if err != nil {
				h.log.Debug("search context", "err", err)
				return
			}
			after, err := h.context.History(ctx, userID, channelID, messaging.Query{After: messageID, Limit: n})
			if err != nil {
				h.log.Debug("search context", "err", err)
				return
			}
			older := before.Messages // newest first: show oldest first
			slices.Reverse(older)
			r.Before, r.After = wire.ToMessages(older), wire.ToMessages(after.Messages)
		}()
	}
	wg.Wait()
}
