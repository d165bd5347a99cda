package attachments

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes bounds a stored file name (Discord and Slack keep a few hundred characters).
const maxNameBytes = 180

// SafeName turns a client's file name into one that is safe to store, show and send in Content-Disposition:
// no directories (either slash), no control or format characters (RTL overrides like U+202E would make
// "photo\u202Egpj.exe" read as "photoexe.jpg"), no leading dots (hidden files), at most 180 bytes with the
// extension kept. An empty result is "file".
func SafeName(name string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "_")
	}
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	if name == "/" {
		name = ""
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case unicode.Is(unicode.Cf, r): // format characters: bidi overrides and isolates, zero-width joiners...
			return -1
		case r == '"' || r == '/' || r == ':' || r == '*' || r == '?' || r == '<' || r == '>' || r == '|':
			return '_' // reserved on some file systems, and quotes in headers
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	name = strings.TrimSpace(name)
	if len(name) > maxNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		base := name[:maxNameBytes-len(ext)]
		for !utf8.ValidString(base) { // do not cut a character in half
			base = base[:len(base)-1]
		}
		name = base + ext
	}
	if name == "" || name == "." {
		return "file"
	}
	return name
}

// withExt replaces a name's extension (an image re-encoded to another format keeps its name, not its type).
func withExt(name, ext string) string {
	return strings.TrimSuffix(name, path.Ext(name)) + ext
}
