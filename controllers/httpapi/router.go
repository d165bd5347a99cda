package httpapi

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleychat/parley/docs"
	"github.com/parleychat/parley/internal/reqid"
	"github.com/parleychat/parley/services/auth"
)

// HealthCheck pings one dependency for /readyz.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// RouterConfig wires the handlers into one gin engine.
type RouterConfig struct {
	Log       *slog.Logger
	Health    []HealthCheck
	StaticDir string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (rate limits use it).
	TrustedProxies []string
	// HSTSMaxAge > 0 sends Strict-Transport-Security (the public origin is https://).
	HSTSMaxAge time.Duration
	Auth       *AuthHandlers
	// UserRate and UserBurst bound each signed-in user's authenticated REST requests (0: unlimited).
	UserRate  time.Duration
	UserBurst int
	// Metrics counts requests by route pattern (nil: none).
	Metrics RequestMetrics
	// Tracer starts a span per request (nil: none), continuing a W3C traceparent the client sent.
	Tracer trace.Tracer
	// Extra registers more routes (socket endpoint, other domains) on the engine, the public /api group and
	// the authenticated /api group.
	Extra []func(engine *gin.Engine, api, authed *gin.RouterGroup)
}

// RequestMetrics records each request by its route pattern.
type RequestMetrics interface {
	Request(method, route string, status int, d time.Duration)
}

// NewRouter builds the HTTP handler: REST under /api, health probes, and the web app for everything else.
func NewRouter(cfg RouterConfig) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// ClientIP (used by rate limits) believes X-Forwarded-For only from the configured proxies.
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Log.Error("invalid trusted proxies; trusting none", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	// The request id comes first, so the access log and a panic's log line carry it too.
	r.Use(requestID, requestLog(cfg.Log, cfg.Metrics))
	if cfg.Tracer != nil {
		r.Use(traceRequests(cfg.Tracer))
	}
	r.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		cfg.Log.ErrorContext(c.Request.Context(), "panic in handler", "path", c.Request.URL.Path, "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorJSON(c, "internal", "internal error", ""))
	}))
	r.Use(securityHeaders(cfg.HSTSMaxAge))

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", readyz(cfg.Health, cfg.Log))

	api := r.Group("/api")
	api.GET("/openapi.json", contract(docs.OpenAPIJSON, cfg.Log))
	api.GET("/asyncapi.json", contract(docs.AsyncAPIJSON, cfg.Log))
	a := cfg.Auth
	api.POST("/auth/register", a.Register)
	api.POST("/auth/verify-email", a.VerifyEmail)
	api.POST("/auth/login", a.Login)
	api.POST("/auth/refresh", a.Refresh)
	api.POST("/auth/logout", a.Logout)
	authed := api.Group("", a.RequireAuth, perUserLimit(cfg.UserRate, cfg.UserBurst))
	authed.GET("/users/me", a.GetMe)
	authed.PATCH("/users/me", a.PatchMe)
	authed.GET("/users/:id", a.GetUser)
	authed.GET("/users", a.SearchUsers)
	for _, extra := range cfg.Extra {
		extra(r, api, authed)
	}
	r.NoRoute(staticApp(cfg.StaticDir))
	return r
}

// contract serves one of the embedded API documents as JSON.
func contract(doc func() ([]byte, error), log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		b, err := doc()
		if err != nil { // the tests parse both documents, so this is a broken build
			fail(c, log, err)
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "application/json; charset=utf-8", b)
	}
}

// readyz pings every store and says which are down, never why: driver errors name hosts, users and versions,
// and the probe answers anyone. The cause is logged, once per change of a store's state.
func readyz(checks []HealthCheck, log *slog.Logger) gin.HandlerFunc {
	var mu sync.Mutex
	last := map[string]string{} // store → last logged state ("ok" or the error text)
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		type result struct {
			name string
			err  error
		}
		results := make(chan result, len(checks))
		for _, hc := range checks {
			go func() { results <- result{hc.Name, hc.Check(ctx)} }()
		}
		status, body := http.StatusOK, gin.H{}
		for range checks {
			r := <-results
			state := "ok"
			if r.err != nil {
				status = http.StatusServiceUnavailable
				state = r.err.Error()
				body[r.name] = gin.H{"status": "down"}
			} else {
				body[r.name] = gin.H{"status": "ok"}
			}
			mu.Lock()
			prev, seen := last[r.name]
			last[r.name] = state
			mu.Unlock()
			switch {
			case prev != state && r.err != nil:
				log.WarnContext(ctx, "readiness: store is down", "store", r.name, "err", r.err)
			case prev != state && seen:
				log.InfoContext(ctx, "readiness: store is up again", "store", r.name)
			}
		}
		overall := "ok"
		if status != http.StatusOK {
			overall = "degraded"
		}
		c.JSON(status, gin.H{"status": overall, "checks": body})
	}
}

// staticApp serves the built front end; unknown paths get index.html so client-side routes work on reload.
func staticApp(dir string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/api/") || c.Request.URL.Path == "/api" {
			c.JSON(http.StatusNotFound, errorJSON(c, "not_found", "no such endpoint", ""))
			return
		}
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			c.JSON(http.StatusNotFound, errorJSON(c, "not_found", "not found", ""))
			return
		}
		clean := filepath.Clean("/" + c.Request.URL.Path)
		path := filepath.Join(dir, clean)
		if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
			if strings.HasPrefix(clean, "/assets/") { // content-hashed by Vite: cache forever
				c.Header("Cache-Control", "public, max-age=31536000, immutable")
			}
			serveStatic(c, path)
			return
		}
		index := filepath.Join(dir, "index.html")
		if _, err := os.Stat(index); err != nil {
			c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(placeholderPage))
			return
		}
		c.Header("Cache-Control", "no-cache")
		serveStatic(c, index)
	}
}

// serveStatic sends a file of the build, or the copy that frontend/scripts/precompress.mjs wrote next to it in
// the best encoding the browser accepts (brotli, then gzip): compressed once at build time, not per request.
func serveStatic(c *gin.Context, path string) {
	c.Header("Vary", "Accept-Encoding")
	accepted := acceptedEncodings(c.GetHeader("Accept-Encoding"))
	for _, enc := range []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if accepted[enc.name] && serveEncoded(c, path, enc.name, enc.ext) {
			return
		}
	}
	c.File(path)
}

// serveEncoded sends path+ext as path in the given Content-Encoding; false if there is no such file.
func serveEncoded(c *gin.Context, path, encoding, ext string) bool {
	f, err := os.Open(path + ext)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		return false
	}
	if ct := mime.TypeByExtension(filepath.Ext(path)); ct != "" {
		c.Header("Content-Type", ct)
	}
	c.Header("Content-Encoding", encoding)
	http.ServeContent(c.Writer, c.Request, filepath.Base(path), fi.ModTime(), f)
	return true
}

// acceptedEncodings parses Accept-Encoding ("br;q=1.0, gzip, *;q=0"): the codings with a weight above zero.
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		out[name] = q > 0
	}
	return out
}

const placeholderPage = `<!doctype html><html><head><meta charset="utf-8"><title>Parley</title></head>
<body><h1>Parley</h1><p>The server is running; the web app has not been built (run <code>make run</code>).</p></body></html>`

// requestID takes the client's X-Request-Id when it is safe to log (else makes one), puts it in the request's
// context for every log line of the request, and echoes it in the answer.
func requestID(c *gin.Context) {
	id := reqid.Accept(c.GetHeader(reqid.Header))
	c.Request = c.Request.WithContext(reqid.With(c.Request.Context(), id))
	c.Header(reqid.Header, id)
	c.Next()
}

// traceRequests starts a server span per REST request, named by method and route pattern; the handler's service
// and database calls become its children through the request's context.
func traceRequests(tr trace.Tracer) gin.HandlerFunc {
	prop := propagation.TraceContext{}
	return func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/socket.io") {
			c.Next() // sockets are traced per event (socketapi)
			return
		}
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := prop.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tr.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route),
				attribute.String("parley.request_id", reqid.From(ctx))))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if v, ok := c.Get(claimsKey); ok {
			span.SetAttributes(attribute.Int64("enduser.id", v.(auth.Claims).UserID))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

// requestLog writes the access log: REST requests at info (method, route pattern, status, latency, user id; never
// the query string, tokens or bodies), probes and static files at debug, server errors at warn. Socket.IO is left
// out: long-polling would flood the log (sockets have their own metrics).
func requestLog(log *slog.Logger, m RequestMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		path := c.Request.URL.Path
		if strings.HasPrefix(path, "/socket.io") {
			return
		}
		elapsed := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched" // the web app's files and unknown paths: one label, not one per path
		}
		if m != nil && route != "/metrics" {
			m.Request(c.Request.Method, route, c.Writer.Status(), elapsed)
		}
		level := slog.LevelDebug
		switch {
		case c.Writer.Status() >= 500:
			level = slog.LevelWarn
		case strings.HasPrefix(path, "/api/"):
			level = slog.LevelInfo
		}
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []any{"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"ms", float64(elapsed.Microseconds()) / 1000}
		if v, ok := c.Get(claimsKey); ok {
			attrs = append(attrs, "user", v.(auth.Claims).UserID)
		}
		log.Log(c.Request.Context(), level, "http", attrs...)
	}
}
