package httpapi

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/ratelimit"
)

// perUserLimit applies one token bucket per signed-in user to the authenticated REST API (after RequireAuth):
// a burst covers the web app's start (servers, channels, members, DMs, history of the open channel), the rate
// a person clicking and scrolling; a script hammering an endpoint gets 429 with Retry-After. Endpoints with a
// budget of their own (login, sending messages) keep it.
func perUserLimit(every time.Duration, burst int) gin.HandlerFunc {
	if every <= 0 || burst <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	buckets := ratelimit.New(every, burst)
	return func(c *gin.Context) {
		if ok, wait := buckets.Allow(strconv.FormatInt(caller(c).UserID, 10)); !ok {
			fail(c, nil, apperr.RateLimit(wait)) // a 429: never logged (fail logs only 5xx)
			return
		}
		c.Next()
	}
}
