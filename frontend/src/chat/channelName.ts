// The server's channel-name rule (internal/rules.NormalizeChannelName), so what the form shows is what gets
// created: lowercase, runs of spaces and dashes become one dash, everything but letters, digits and '_' dropped.
// It lowercases one code point at a time as Go does (no final-sigma context), and "space" is Go's
// unicode.IsSpace. rules.test.ts checks it against the server's own answers (CHANNEL_NAME_EXAMPLES).

const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const KEPT = /^[_\p{L}\p{N}]$/u;

export function normalizeChannelName(s: string): string {
  let out = '';
  let dash = false;
  for (const ch of s) {
    for (const c of ch.toLowerCase()) {
      if (c === '-' || GO_SPACE.test(c)) {
        dash = out.length > 0; // no leading dash; a trailing one is never written
      } else if (KEPT.test(c)) {
        if (dash) out += '-';
        dash = false;
        out += c;
      }
    }
  }
  return out;
}
