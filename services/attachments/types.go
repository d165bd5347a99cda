package attachments

import (
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// DefaultTypes is the default allow-list of sniffed types (PARLEY_UPLOAD_TYPES): media, text and code, PDFs and
// archives. Executables and anything unrecognised (application/octet-stream) are refused.
const DefaultTypes = "image/png,image/jpeg,image/gif,image/webp,video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg," +
	"audio/wav,audio/webm,audio/mp4,audio/flac,text/*,application/json,application/pdf,application/zip,application/gzip," +
	"application/x-tar,application/x-7z-compressed,image/svg+xml"

// inlineTypes may be shown by the browser from our origin (with nosniff and a sandboxing CSP): raster images,
// media, and plain text. Everything else (SVG and HTML above all: they run script) is sent as a download,
// as application/octet-stream.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/webm": true,
	"audio/mp4": true, "audio/flac": true, "text/plain": true,
}

// sniff names the type of a file from its first bytes.
func sniff(head []byte) string {
	mt := mimetype.Detect(head)
	t, _, _ := strings.Cut(mt.String(), ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// allowed matches a type against patterns like "image/png" or "text/*".
func allowed(patterns []string, t string) bool {
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == t || (strings.HasSuffix(p, "/*") && strings.HasPrefix(t, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// isText: files whose first lines make a preview (text and code).
func isText(t string) bool {
	return strings.HasPrefix(t, "text/") && t != "text/html" || t == "application/json"
}

// ServedType is the Content-Type a file is sent with, and whether it may be shown inline.
func ServedType(t string) (string, bool) {
	if inlineTypes[t] {
		if t == "text/plain" {
			return "text/plain; charset=utf-8", true
		}
		return t, true
	}
	return "application/octet-stream", false
}
