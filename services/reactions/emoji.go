package reactions

import "unicode/utf8"

// Emoji limits: a reaction is one Unicode emoji sequence (a flag, a keycap, a ZWJ family with skin tones),
// never text. The front end sends what its picker (and markdown-it-emoji's :shortcode: table) gives: Unicode,
// so one emoji has one key however it was chosen.
const (
	MaxEmojiBytes = 64
	MaxEmojiRunes = 16
)

// ValidEmoji reports whether s is a single emoji sequence of bounded length: pictographic code points joined
// by ZWJ, with variation selectors, skin-tone modifiers, tag sequences (subdivision flags), regional-indicator
// pairs (flags) and keycaps ([0-9#*] FE0F? 20E3).
func ValidEmoji(s string) bool {
	if s == "" || len(s) > MaxEmojiBytes || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxEmojiRunes {
		return false
	}
	rs := []rune(s)
	if isKeycapBase(rs[0]) { // keycap: 1️⃣ #️⃣
		switch {
		case len(rs) == 2 && rs[1] == 0x20E3:
			return true
		case len(rs) == 3 && rs[1] == 0xFE0F && rs[2] == 0x20E3:
			return true
		}
		return false
	}
	if rs[0] >= 0x1F1E6 && rs[0] <= 0x1F1FF { // a flag: exactly two regional indicators
		return len(rs) == 2 && rs[1] >= 0x1F1E6 && rs[1] <= 0x1F1FF
	}
	needBase := true // at the start and after a ZWJ an emoji must come; modifiers and ZWJ follow one
	for _, r := range rs {
		switch {
		case isPictographic(r):
			if !needBase {
				return false // two emoji, not one sequence
			}
			needBase = false
		case r == 0x200D:
			if needBase {
				return false
			}
			needBase = true
		case r == 0xFE0F || r == 0xFE0E || isSkinTone(r) || (r >= 0xE0020 && r <= 0xE007F): // modifiers, tags
			if needBase {
				return false
			}
		default:
			return false
		}
	}
	return !needBase
}

func isKeycapBase(r rune) bool { return r == '#' || r == '*' || (r >= '0' && r <= '9') }

func isSkinTone(r rune) bool { return r >= 0x1F3FB && r <= 0x1F3FF }

// isPictographic covers the blocks where Unicode's emoji live (Extended_Pictographic, roughly; the standard
// library has no emoji property table).
func isPictographic(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF: // mahjong … symbols and pictographs extended-A
		return !isSkinTone(r)
	case r >= 0x2600 && r <= 0x27BF: // miscellaneous symbols, dingbats
		return true
	case r >= 0x2300 && r <= 0x23FF: // miscellaneous technical: ⌚ ⏰ ⏩
		return true
	case r >= 0x2B00 && r <= 0x2BFF: // ⭐ ⬆ ⬛
		return true
	case r >= 0x2190 && r <= 0x21FF, r >= 0x25A0 && r <= 0x25FF, r >= 0x2900 && r <= 0x297F: // arrows, shapes
		return true
	}
	switch r {
	case 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299:
		return true
	}
	return false
}
