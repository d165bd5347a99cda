// Package httpapi holds the REST handlers: thin adapters that parse a request, call a service, and write JSON.
package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/reqid"
)

var statusOf = map[apperr.Kind]int{
	apperr.Invalid:            http.StatusBadRequest,
	apperr.Unauthorized:       http.StatusUnauthorized,
	apperr.TokenExpired:       http.StatusUnauthorized,
	apperr.InvalidCredentials: http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.Gone:               http.StatusGone,
	apperr.TooLarge:           http.StatusRequestEntityTooLarge,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.LimitReached:       http.StatusForbidden,
	apperr.EncryptionRequired: http.StatusConflict,
	apperr.RotationOverdue:    http.StatusConflict,
	apperr.StaleEpoch:         http.StatusConflict,
	apperr.Unavailable:        http.StatusServiceUnavailable,
	apperr.Internal:           http.StatusInternalServerError,
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RequestID names the request in the server's log (quote it in a bug report).
	RequestID string `json:"requestId,omitempty"`
}

// errorJSON is the standard error shape {"error": {code, message, field?, requestId}}.
func errorJSON(c *gin.Context, code, message, field string) gin.H {
	return gin.H{"error": errorBody{Code: code, Message: message, Field: field, RequestID: reqid.From(c.Request.Context())}}
}

// fail writes the standard error shape {"error": {code, message, field?}} and logs server-side causes.
func fail(c *gin.Context, log *slog.Logger, err error) {
	e := apperr.As(err)
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
	}
	if e.Kind == apperr.RateLimited {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	c.AbortWithStatusJSON(status, errorJSON(c, string(e.Kind), e.Message, e.Field))
}

// bind decodes a JSON body (1 MiB at most, unknown fields ignored) into dst.
func bind(c *gin.Context, dst any) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)
	if err := c.ShouldBindJSON(dst); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return apperr.New(apperr.TooLarge, "request body is too large")
		case errors.Is(err, os.ErrDeadlineExceeded):
			return apperr.New(apperr.Invalid, "request body did not arrive in time")
		case errors.Is(err, io.EOF):
			return apperr.New(apperr.Invalid, "request body must be a JSON object")
		default:
			return apperr.New(apperr.Invalid, "request body is not valid JSON for this endpoint: "+trimErr(err))
		}
	}
	return nil
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// parseID reads a decimal id from a path parameter or query value.
func parseID(s, field string) (int64, error) { return wire.ParseID(strings.TrimSpace(s), field) }

// queryInt reads an integer query parameter, falling back to def when absent or malformed.
func queryInt(c *gin.Context, name string, def int) int {
	if v, err := strconv.Atoi(c.Query(name)); err == nil {
		return v
	}
	return def
}
