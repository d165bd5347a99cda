package model

import "regexp"

// AvatarPathPrefix is where avatars stored by Parley are served from, on its own origin.
const AvatarPathPrefix = "/avatars/"

var avatarPath = regexp.MustCompile(`^/avatars/[A-Za-z0-9][A-Za-z0-9_-]{0,127}(\.(png|jpe?g|gif|webp))?$`)

// AvatarURLAllowed says whether an avatar URL may be stored and shown: only a path under AvatarPathPrefix on our
// own origin. A URL on another host would be fetched by every viewer's browser — their address and when they are
// online go to whoever runs that host, and the host can be an internal one the viewer can reach.
func AvatarURLAllowed(u string) bool { return avatarPath.MatchString(u) }

// PublicAvatarURL is the avatar URL as served: an older foreign URL (accepted before this rule) is dropped, and
// clients show initials instead.
func PublicAvatarURL(u string) string {
	if AvatarURLAllowed(u) {
		return u
	}
	return ""
}

// HasInvisibleOrBidi reports characters that make a name look like another or reorder the text around it:
// bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), direction marks (U+200E, U+200F,
// U+061C), and invisible spaces (U+200B, U+2060, U+FEFF). Zero-width joiners stay allowed: emoji need them.
func HasInvisibleOrBidi(s string) bool {
	for _, r := range s {
		switch {
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
			r == 0x200E, r == 0x200F, r == 0x061C, r == 0x200B, r == 0x2060, r == 0xFEFF:
			return true
		}
	}
	return false
}
