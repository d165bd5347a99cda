// Package rules holds the input rules that the server enforces and the web app applies before sending: the
// length limits of what users type and the channel-name normalisation. They are written here once; the web
// app's copy, frontend/src/api/rules.gen.ts, is generated from them (go generate ./internal/rules) and a test
// fails when the two drift apart.
package rules

import (
	"strings"
	"unicode"
)

//go:generate go run ./gen

// Limits in characters (Unicode code points, after trimming).
const (
	MessageMaxRunes     = 4000 // a message's text
	ServerNameMinRunes  = 2
	ServerNameMaxRunes  = 100
	ChannelNameMaxRunes = 64 // after NormalizeChannelName
	TopicMaxRunes       = 1024
	DisplayNameMaxRunes = 64
	BanReasonMaxRunes   = 512
	SearchQueryMaxRunes = 512
)

// NormalizeChannelName makes a channel name the way Discord does: lowercase, runs of spaces and dashes become
// one dash, punctuation and symbols are dropped ("Random Stuff!" → "random-stuff"). The result may be empty or
// longer than ChannelNameMaxRunes; the caller refuses those.
func NormalizeChannelName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case unicode.IsSpace(r) || r == '-':
			dash = b.Len() > 0 // no leading dash; a trailing one is never written
		case r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ChannelNameExamples are inputs whose normalised form the generated TypeScript carries, so the web app's
// test checks its implementation against the server's on each of them.
var ChannelNameExamples = []string{
	"Random Stuff!", "  off   topic  ", "--a -- b--", "dev_ops 2", "Café Crème", "C++ & Go (backend)",
	"🎉 party time 🎉", "!!!", "", "UPPER_lower-Mixed", "tab\there", "line\nbreak", "a—b–c", "日本語 チャンネル",
	"Ünïcödé Straße", "x__y", "-_-", "١٢٣ arabic digits", "½ half", "emoji🙂inside", "dots.and,commas;",
	"a - - b", "trailing - ", "non\u00a0breaking space", "Ⅻ roman", "ΣΊΣΥΦΟΣ",
	"next\u0085line", "byte\ufefforder", "İstanbul", "ideographic\u3000space", "zero\u200bwidth", "combining e\u0301",
}
