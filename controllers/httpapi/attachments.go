package httpapi

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/attachments"
)

// AttachmentService is what the file endpoints need.
type AttachmentService interface {
	Upload(ctx context.Context, u attachments.Upload) (model.Attachment, error)
	Open(ctx context.Context, userID, id int64, preview bool) (attachments.File, error)
	Limits() attachments.Config
}

// FilesCookie carries the access token to /files/ so that <img> and <video> elements, which cannot send an
// Authorization header, can load attachments. HttpOnly, SameSite=Strict, and sent only under /files/.
const FilesCookie = "parley_files"

// FileCSP is the Content-Security-Policy of every file answer: a file opened on its own (not inside the app's
// <img> or <video>) runs nothing, loads nothing and is in a sandbox with a unique origin.
const FileCSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"

// AttachmentHandlers serve uploads and downloads.
type AttachmentHandlers struct {
	svc           AttachmentService
	auth          *AuthHandlers
	log           *slog.Logger
	secureCookies bool
}

func NewAttachmentHandlers(svc AttachmentService, auth *AuthHandlers, secureCookies bool, log *slog.Logger) *AttachmentHandlers {
	return &AttachmentHandlers{svc: svc, auth: auth, log: log, secureCookies: secureCookies}
}

// IsUpload tells the HTTP server which requests may have a large, slow body (the upload endpoint).
func IsUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/channels/") && strings.HasSuffix(r.URL.Path, "/attachments") ||
		r.Method == http.MethodPut && (r.URL.Path == "/api/users/me/avatar" || strings.HasPrefix(r.URL.Path, "/api/servers/") && strings.HasSuffix(r.URL.Path, "/icon"))
}

func (h *AttachmentHandlers) Routes(e *gin.Engine, _, authed *gin.RouterGroup) {
	authed.POST("/channels/:id/attachments", h.Upload)
	authed.GET("/attachments/limits", h.Limits)
	authed.POST("/files/session", h.FileSession)
	files := e.Group("/files", h.fileAuth, h.auth.RequireAuth)
	files.GET("/:id/:name", h.Download)
	files.HEAD("/:id/:name", h.Download)
}

// Upload stores the request body as a file for a later message: POST /api/channels/:id/attachments?filename=x
// with the raw bytes as the body and a Content-Length; &encrypted=1 for a file encrypted in the browser (an
// end-to-end encrypted DM: stored as it is, with a neutral name and type).
func (h *AttachmentHandlers) Upload(c *gin.Context) {
	channelID, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	a, err := h.svc.Upload(c.Request.Context(), attachments.Upload{UserID: caller(c).UserID, ChannelID: channelID,
		Name: c.Query("filename"), Size: c.Request.ContentLength, Body: c.Request.Body, Opaque: c.Query("encrypted") == "1"})
	if err != nil {
		if c.Request.ContentLength > 0 {
			// The body was not (fully) read: do not keep the connection for a next request behind unread bytes.
			c.Header("Connection", "close")
		}
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"attachment": wire.ToAttachment(a)})
}

// Limits tells clients what they may upload, so they refuse a file before sending it.
func (h *AttachmentHandlers) Limits(c *gin.Context) {
	l := h.svc.Limits()
	c.JSON(http.StatusOK, gin.H{"maxSize": l.MaxSize, "maxPerMessage": l.MaxPerMessage, "types": l.Types})
}

// FileSession puts the caller's access token in the files cookie; the web app calls it after each login or
// token refresh. The cookie expires with the token.
func (h *AttachmentHandlers) FileSession(c *gin.Context) {
	token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	http.SetCookie(c.Writer, &http.Cookie{Name: FilesCookie, Value: token, Path: "/files/",
		MaxAge: max(1, int(time.Until(caller(c).ExpiresAt)/time.Second)), HttpOnly: true, Secure: h.secureCookies, SameSite: http.SameSiteStrictMode})
	c.Status(http.StatusNoContent)
}

// fileAuth lets the files cookie stand in for the Authorization header (RequireAuth runs next).
func (h *AttachmentHandlers) fileAuth(c *gin.Context) {
	if c.GetHeader("Authorization") == "" {
		if v, err := c.Cookie(FilesCookie); err == nil && v != "" {
			c.Request.Header.Set("Authorization", "Bearer "+v)
		}
	}
	c.Next()
}

// Download sends a file (or ?preview=1, its preview image) to a member of its channel. Nothing is ever sent as
// active content: types that could run script go out as application/octet-stream attachments, with nosniff
// (set for every answer) and a sandboxing CSP.
func (h *AttachmentHandlers) Download(c *gin.Context) {
	id, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	f, err := h.svc.Open(c.Request.Context(), caller(c).UserID, id, c.Query("preview") == "1")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	defer f.Body.Close()
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", FileCSP)
	hd.Set("Content-Type", f.ContentType)
	disposition := "attachment"
	if f.Inline && c.Query("download") != "1" {
		disposition = "inline"
	}
	hd.Set("Content-Disposition", ContentDisposition(disposition, f.Attachment.Name))
	// Members only: no shared cache may keep it; the browser may reuse it briefly.
	hd.Set("Cache-Control", "private, max-age=300")
	if rs, ok := f.Body.(io.ReadSeeker); ok {
		// Range requests (a video player seeking), HEAD and If-Modified-Since.
		http.ServeContent(c.Writer, c.Request, "", f.Attachment.CreatedAt, rs)
		return
	}
	hd.Set("Content-Length", wire.ID(f.Size))
	c.Status(http.StatusOK)
	if c.Request.Method != http.MethodHead {
		_, _ = io.Copy(c.Writer, f.Body)
	}
}

// ContentDisposition formats the header with an ASCII fallback name and, when the name is not plain ASCII, the
// exact name in RFC 5987 form (filename*=utf-8”...), so no client ever sees quotes, control characters or path
// separators from a user's file name.
func ContentDisposition(disposition, name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '/' || r == ';' || r == '%' {
			return '_'
		}
		return r
	}, name)
	v := mime.FormatMediaType(disposition, map[string]string{"filename": fallback})
	if v == "" {
		return disposition
	}
	if fallback != name {
		// With a non-ASCII value FormatMediaType writes the parameter as filename*=utf-8''<percent-encoded>.
		if exact := mime.FormatMediaType(disposition, map[string]string{"filename": name}); strings.Contains(exact, "filename*=") {
			v += "; " + strings.TrimPrefix(exact, disposition+"; ")
		}
	}
	return v
}
