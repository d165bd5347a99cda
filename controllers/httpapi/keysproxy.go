package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/internal/reqid"
)

// keysProxyBodyLimit bounds a request body forwarded to the key service (its largest request, 200 key packages
// plus a last-resort one, is well under 1 MiB).
const keysProxyBodyLimit = 4 << 20

// keysProxyTimeout bounds one proxied request end to end; the key service answers in milliseconds.
const keysProxyTimeout = 30 * time.Second

// KeysProxy forwards /keys/… to the key service (cmd/keys) so the web app talks to one origin: the app's CSP
// allows connect-src 'self' only, and no CORS is involved. The key service authenticates every request itself
// (the same access tokens), so the proxy passes Authorization through and adds nothing but a request id.
type KeysProxy struct {
	target *url.URL
	proxy  *httputil.ReverseProxy
	log    *slog.Logger
}

// NewKeysProxy proxies to target (scheme and host; nil: off, every /keys/ request answers 503).
func NewKeysProxy(target *url.URL, log *slog.Logger) *KeysProxy {
	k := &KeysProxy{target: target, log: log}
	if target == nil {
		return k
	}
	transport := &http.Transport{
		Proxy:                 nil, // a service next to this one: never through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: 15 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   32,
		ForceAttemptHTTP2:     false,
	}
	k.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/keys")
			r.Out.URL.RawPath = ""
			r.SetURL(target)
			r.SetXForwarded()
			r.Out.Host = target.Host
			// The session cookie (refresh token) is the chat server's alone; the key service needs the bearer token.
			r.Out.Header.Del("Cookie")
			r.Out.Header.Set(reqid.Header, reqid.From(r.In.Context()))
		},
		// The key service's own X-Request-Id would differ from the one the chat server logged and echoed.
		ModifyResponse: func(res *http.Response) error {
			res.Header.Del(reqid.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.WarnContext(r.Context(), "key service unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
			writeKeysError(w, r, http.StatusBadGateway, "the key service is unreachable; try again")
		},
	}
	return k
}

// Routes registers GET, POST and DELETE /keys/*path (the methods the key service serves).
func (k *KeysProxy) Routes(e *gin.Engine, _, _ *gin.RouterGroup) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		e.Handle(m, "/keys/*path", k.serve)
	}
}

func (k *KeysProxy) serve(c *gin.Context) {
	if k.proxy == nil {
		writeKeysError(c.Writer, c.Request, http.StatusServiceUnavailable, "end-to-end encryption is not configured on this server (PARLEY_KEYS_URL)")
		c.Abort()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), keysProxyTimeout)
	defer cancel()
	req := c.Request.WithContext(ctx)
	if req.Body != nil {
		req.Body = http.MaxBytesReader(c.Writer, req.Body, keysProxyBodyLimit)
	}
	k.proxy.ServeHTTP(c.Writer, req)
}

func writeKeysError(w http.ResponseWriter, r *http.Request, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]errorBody{"error": {Code: "unavailable", Message: message, RequestID: reqid.From(r.Context())}})
}
