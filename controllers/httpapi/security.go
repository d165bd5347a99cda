package httpapi

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// ContentSecurityPolicy is sent with every answer (the web app, the API, the socket endpoint).
//
//   - script-src 'self': only our own bundle runs; no inline script, no eval, no CDN.
//   - style-src 'self' 'unsafe-inline': the emoji picker (emoji-picker-react) writes its styles into <style>
//     elements at run time, and a per-response nonce would need a templated index.html. CSS cannot run script;
//     with message text rendered as text nodes there is no sink that could inject markup to abuse it.
//   - img-src 'self' data: blob: : avatars come from our own origin only (see README, Security), so no viewer's
//     browser fetches a URL another user chose.
//   - media-src 'self' blob: : videos and audio of encrypted DMs play from object URLs of the bytes this page
//     decrypted itself (blob: URLs are made by this origin only).
//   - connect-src 'self': REST and the Socket.IO connection (CSP Level 3 browsers match ws:/wss: of the same
//     host and port with 'self').
//   - frame-ancestors 'none' (and X-Frame-Options DENY for older browsers): no site can frame Parley to trick a
//     click; object-src and base-uri 'none', form-action 'self'.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; worker-src 'self'; " +
	"manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the browser protections on every answer. hsts > 0 adds Strict-Transport-Security (only
// configurable with an https:// public origin: browsers ignore it over plain HTTP).
func securityHeaders(hsts time.Duration) gin.HandlerFunc {
	hstsValue := ""
	if hsts > 0 {
		hstsValue = "max-age=" + strconv.FormatInt(int64(hsts/time.Second), 10)
	}
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// Other sites learn nothing of the channel URL a link was clicked in. Not no-referrer: that would make
		// same-origin POSTs (long-polling) send "Origin: null".
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if hstsValue != "" {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		c.Next()
	}
}
