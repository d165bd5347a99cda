// Splits message text into plain text and http(s) links. Rendering uses these segments as React text nodes, so
// message content is never interpreted as HTML.

export type Segment = { type: 'text'; text: string } | { type: 'link'; text: string; href: string };

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCT = '.,;:!?\'"]}>*';

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/** Drops trailing punctuation, keeping a closing paren that balances one inside the URL (Wikipedia links). */
function trimUrl(raw: string): string {
  let url = raw;
  while (url.length > 0) {
    const last = url[url.length - 1];
    if (TRAILING_PUNCT.includes(last)) url = url.slice(0, -1);
    else if (last === ')' && count(url, '(') < count(url, ')')) url = url.slice(0, -1);
    else break;
  }
  return url;
}

/** A safe href for `raw`, or null unless it is an absolute http or https URL. */
export function safeHref(raw: string): string | null {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.href;
  } catch {
    return null;
  }
}

export function splitLinks(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  const pushText = (t: string) => {
    if (!t) return;
    const prev = out[out.length - 1];
    if (prev && prev.type === 'text') prev.text += t;
    else out.push({ type: 'text', text: t });
  };
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index ?? 0;
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    pushText(text.slice(last, start));
    if (href && /^https?:\/\/[^/?#\s]+/i.test(url)) {
      out.push({ type: 'link', text: url, href });
    } else {
      pushText(url);
    }
    last = start + url.length;
  }
  pushText(text.slice(last));
  return out;
}
