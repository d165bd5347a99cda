// Discord-flavoured markdown for message text, parsed with markdown-it into a small tree of plain objects
// (MdNode). The React renderer (components/MessageContent.tsx) builds elements from that tree, so message text is
// never interpreted as HTML: markdown-it runs with `html: false`, and nothing here produces markup strings.
//
// What differs from CommonMark, to behave like Discord:
// - `__x__` is underline (markdown-it calls it strong; we tell it apart by its markup), `||x||` is a spoiler,
//   `~~x~~` is strikethrough, `:name:` is an emoji.
// - `> x` quotes only its own lines (no lazy continuation); `>>> x` quotes everything to the end of the message.
// - A code block may close at the end of its last line ("x = 1```").
// - One newline is one line break; blank lines between blocks are kept (MdBlock.gap).
// - No headings, tables, horizontal rules, indented code, images, reference links or HTML entities: in a chat they
//   mostly fire by accident ("---", "#1", "&lt;" stay as typed).
// - Only absolute http(s) and mailto links become links; anything else (javascript:, data:, relative, ...) stays
//   text. A masked link, or one to an international domain name, shows its real host and asks before leaving
//   (MessageContent). Bidi override, embedding and isolate characters are removed, so a message cannot flip the direction of
//   text outside itself.
// - Mentions: `<@id>` (a user), `<#id>` (a channel), `@everyone` and `@here` become mention nodes (not inside code).
import markdownit from 'markdown-it';
import type { MarkdownIt, StateBlock, StateInline, Token } from 'markdown-it';
import emojiTable from 'markdown-it-emoji/lib/data/full.mjs';
import { stripBidiControls } from './bidi';

export { stripBidiControls };

export type MdInline =
  | { type: 'text'; text: string }
  | { type: 'break' }
  | { type: 'code'; text: string }
  | { type: 'emoji'; name: string; char: string }
  /** `<@id>` / `<#id>` as the server stores resolved mentions; `@everyone` / `@here` as typed (id is empty). */
  | { type: 'mention'; kind: 'user' | 'channel' | 'everyone' | 'here'; id: string }
  | { type: 'strong' | 'em' | 'underline' | 'strike' | 'spoiler'; children: MdInline[] }
  /** masked: written as [text](url), so the text may say something else than the target. */
  | { type: 'link'; href: string; masked: boolean; children: MdInline[] };

/** gap: blank source lines between this block and the previous one. */
export type MdBlock = { gap: number } & (
  | { type: 'paragraph'; children: MdInline[] }
  | { type: 'codeBlock'; lang: string; text: string }
  | { type: 'quote'; children: MdBlock[] }
  | { type: 'list'; ordered: boolean; start: number; items: MdBlock[][] }
);

const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** A safe href for `raw`, or null unless it is an absolute http(s) URL with a host, or a mailto: URL. */
export function safeHref(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (!LINK_PROTOCOLS.has(u.protocol)) return null;
  if (u.protocol !== 'mailto:' && !u.hostname) return null;
  return u.href;
}

/** What a link really points at, short enough to show beside masked text: the host (an international name in its
 *  ASCII form, xn--…, as the browser will resolve it), or the mail address. */
export function linkTarget(href: string): string {
  const u = new URL(href);
  return u.protocol === 'mailto:' ? decodeURIComponent(u.pathname) : u.host;
}

/** Whether a link's host is an international domain name: written with other scripts it can look exactly like
 *  another (Cyrillic "а" for Latin "a"), so its ASCII form is shown and following it asks first. */
export function isInternationalHost(href: string): boolean {
  const u = new URL(href);
  return u.protocol !== 'mailto:' && u.hostname.split('.').some((label) => label.startsWith('xn--'));
}

// ---------------------------------------------------------------------------------------------------------------
// markdown-it rules

const PIPE = 0x7c;

/** markdown-it's own text rule, which also stops at '|' so the spoiler rule gets to see it. */
function text(state: StateInline, silent: boolean): boolean {
  let pos = state.pos;
  while (pos < state.posMax && !isTerminator(state.src.charCodeAt(pos))) pos++;
  if (pos === state.pos) return false;
  if (!silent) state.pending += state.src.slice(state.pos, pos);
  state.pos = pos;
  return true;
}

function isTerminator(ch: number): boolean {
  switch (ch) {
    case 0x0a: // \n
    case 0x21: // !
    case 0x23: // #
    case 0x24: // $
    case 0x25: // %
    case 0x26: // &
    case 0x2a: // *
    case 0x2b: // +
    case 0x2d: // -
    case 0x3a: // :
    case 0x3c: // <
    case 0x3d: // =
    case 0x3e: // >
    case 0x40: // @
    case 0x5b: // [
    case 0x5c: // \
    case 0x5d: // ]
    case 0x5e: // ^
    case 0x5f: // _
    case 0x60: // `
    case 0x7b: // {
    case PIPE:
    case 0x7d: // }
    case 0x7e: // ~
      return true;
    default:
      return false;
  }
}

/** `||` delimiters, paired by markdown-it's balance_pairs like `~~`. Any `||` may open or close (as in Discord,
 *  `|| spaced ||` is a spoiler too). */
function spoilerTokenize(state: StateInline, silent: boolean): boolean {
  if (silent || state.src.charCodeAt(state.pos) !== PIPE) return false;
  let end = state.pos;
  while (end < state.posMax && state.src.charCodeAt(end) === PIPE) end++;
  let len = end - state.pos;
  if (len < 2) return false;
  if (len % 2) {
    state.push('text', '', 0).content = '|';
    len--;
  }
  for (let i = 0; i < len; i += 2) {
    state.push('text', '', 0).content = '||';
    state.delimiters.push({ marker: PIPE, length: 0, token: state.tokens.length - 1, end: -1, open: true, close: true });
  }
  state.pos = end;
  return true;
}

function spoilerPairs(state: StateInline, delimiters: StateInline['delimiters']): void {
  for (const open of delimiters) {
    if (open.marker !== PIPE || open.end === -1) continue;
    const close = delimiters[open.end];
    for (const [d, type, nesting] of [
      [open, 'spoiler_open', 1],
      [close, 'spoiler_close', -1],
    ] as const) {
      const t = state.tokens[d.token];
      t.type = type;
      t.tag = 'span';
      t.nesting = nesting;
      t.markup = '||';
      t.content = '';
    }
  }
}

function spoilerPostProcess(state: StateInline): boolean {
  spoilerPairs(state, state.delimiters);
  for (const meta of state.tokens_meta) if (meta?.delimiters) spoilerPairs(state, meta.delimiters);
  return false;
}

const EMOJI: Record<string, string> = emojiTable;
const EMOJI_NAME = /^:([a-z0-9_+-]{1,64}):/;

/** `:name:` from markdown-it-emoji's table (GitHub's gemoji names). */
function emoji(state: StateInline, silent: boolean): boolean {
  if (state.src.charCodeAt(state.pos) !== 0x3a) return false;
  const m = EMOJI_NAME.exec(state.src.slice(state.pos, state.pos + 67));
  if (!m || !Object.prototype.hasOwnProperty.call(EMOJI, m[1])) return false;
  if (!silent) {
    const t = state.push('emoji', '', 0);
    t.markup = m[1];
    t.content = EMOJI[m[1]];
  }
  state.pos += m[0].length;
  return true;
}

const MENTION_ID = /^<([@#])(\d{1,20})>/;
const MENTION_WORD = /^@(everyone|here)(?![\p{L}\p{N}_-]|\.[\p{L}\p{N}_-])/u;
const WORD_CHAR = /[\p{L}\p{N}_.-]/u;

/** `<@123>`, `<#123>`, and `@everyone` / `@here` standing alone (not the end of an e-mail address or a name). */
function mention(state: StateInline, silent: boolean): boolean {
  const ch = state.src.charCodeAt(state.pos);
  let kind: 'user' | 'channel' | 'everyone' | 'here';
  let id = '';
  let len: number;
  if (ch === 0x3c) {
    const m = MENTION_ID.exec(state.src.slice(state.pos, state.pos + 24));
    if (!m) return false;
    kind = m[1] === '@' ? 'user' : 'channel';
    id = m[2];
    len = m[0].length;
  } else if (ch === 0x40) {
    if (state.pos > 0 && WORD_CHAR.test(state.src[state.pos - 1])) return false;
    const m = MENTION_WORD.exec(state.src.slice(state.pos, state.pos + 12));
    if (!m) return false;
    kind = m[1] as 'everyone' | 'here';
    len = m[0].length;
  } else {
    return false;
  }
  if (!silent) {
    const t = state.push('mention', '', 0);
    t.markup = kind;
    t.content = id;
  }
  state.pos += len;
  return true;
}

/** Registered only as a blockquote terminator: any line that does not start with '>' ends the quote, so
 *  `> quote\nreply` does not pull "reply" into the quote (CommonMark's lazy continuation). */
function quoteEnd(state: StateBlock, line: number, _end: number, silent: boolean): boolean {
  if (!silent) return false;
  return state.src.charCodeAt(state.bMarks[line] + state.tShift[line]) !== 0x3e;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Two Discord habits CommonMark does not know, applied line by line outside code blocks:
 *  - `>>> ` quotes the rest of the message: every later line gets a '> ' prefix;
 *  - a code block may end on its last line ("x = 1```"): the closing fence moves to a line of its own. */
function discordLines(src: string): string {
  if (!src.includes('>>>') && !src.includes('```')) return src;
  const lines = src.split('\n');
  let fence = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const f = FENCE.exec(line);
    if (fence) {
      if (f && f[1][0] === fence[0] && f[1].length >= fence.length && !line.slice(f[0].length).trim()) fence = '';
      else if (fence[0] === '`' && line.trimEnd().endsWith(fence)) {
        const body = line.trimEnd().slice(0, -fence.length);
        lines.splice(i, 1, body, fence);
        fence = '';
        i++;
      }
    } else if (f) {
      fence = f[1];
    } else if (line.startsWith('>>> ') || line === '>>>') {
      lines[i] = '> ' + line.slice(4);
      for (let j = i + 1; j < lines.length; j++) lines[j] = '> ' + lines[j];
      break;
    }
  }
  return lines.join('\n');
}

function createParser(): MarkdownIt {
  const md = markdownit('commonmark', { html: false, linkify: true, breaks: true, typographer: false });
  md.enable(['strikethrough', 'linkify']);
  md.disable(['heading', 'lheading', 'hr', 'code', 'reference', 'html_block', 'html_inline', 'image', 'entity']);
  // Only scheme links (no bare "example.com", no bare e-mail addresses), and of those only http(s) and mailto.
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
  md.linkify.add('ftp:', null).add('//', null);
  md.validateLink = (url) => safeHref(url) !== null;
  md.inline.ruler.at('text', text);
  md.inline.ruler.after('strikethrough', 'spoiler', spoilerTokenize);
  md.inline.ruler2.after('strikethrough', 'spoiler', spoilerPostProcess);
  md.inline.ruler.after('linkify', 'emoji', emoji);
  md.inline.ruler.after('text', 'mention', mention);
  md.block.ruler.before('fence', 'quote_end', quoteEnd, { alt: ['blockquote'] });
  return md;
}

let parser: MarkdownIt | null = null;

// ---------------------------------------------------------------------------------------------------------------
// tokens → tree

function inlineNodes(tokens: Token[]): MdInline[] {
  const root: MdInline[] = [];
  const stack: { children: MdInline[]; node: MdInline | null }[] = [{ children: root, node: null }];
  const top = () => stack[stack.length - 1].children;
  const pushText = (s: string) => {
    if (!s) return;
    const c = top();
    const last = c[c.length - 1];
    if (last && last.type === 'text') last.text += s;
    else c.push({ type: 'text', text: s });
  };
  const open = (node: Extract<MdInline, { children: MdInline[] }>) => {
    top().push(node);
    stack.push({ children: node.children, node });
  };
  for (const t of tokens) {
    switch (t.type) {
      case 'text':
      case 'text_special':
        pushText(t.content);
        break;
      case 'softbreak':
      case 'hardbreak':
        top().push({ type: 'break' });
        break;
      case 'code_inline':
        top().push({ type: 'code', text: t.content });
        break;
      case 'emoji':
        top().push({ type: 'emoji', name: t.markup, char: t.content });
        break;
      case 'mention':
        top().push({ type: 'mention', kind: t.markup as 'user' | 'channel' | 'everyone' | 'here', id: t.content });
        break;
      case 'strong_open':
        open({ type: t.markup === '__' ? 'underline' : 'strong', children: [] });
        break;
      case 'em_open':
        open({ type: 'em', children: [] });
        break;
      case 's_open':
        open({ type: 'strike', children: [] });
        break;
      case 'spoiler_open':
        open({ type: 'spoiler', children: [] });
        break;
      case 'link_open': {
        const href = safeHref(String(t.attrGet('href') ?? ''));
        if (href) open({ type: 'link', href, masked: t.markup !== 'linkify' && t.info !== 'auto', children: [] });
        else stack.push({ children: top(), node: null }); // cannot happen (validateLink), but never a link
        break;
      }
      default: // nothing else is enabled; keep the text of anything unexpected, never its markup
        if (t.nesting === 1) stack.push({ children: top(), node: null });
        else if (t.nesting === -1 && stack.length > 1) stack.pop();
        else pushText(t.content);
    }
  }
  return root;
}

function blockNodes(tokens: Token[]): MdBlock[] {
  const out: MdBlock[] = [];
  let prevEnd = -1;
  let i = 0;
  const gapOf = (t: Token) => {
    const gap = t.map && prevEnd >= 0 ? Math.max(0, t.map[0] - prevEnd) : 0;
    if (t.map) prevEnd = t.map[1];
    return gap;
  };
  /** Index just after the close token that matches the open token at `from`. */
  const closeOf = (from: number) => {
    let depth = 0;
    for (let j = from; j < tokens.length; j++) {
      depth += tokens[j].nesting;
      if (depth === 0) return j;
    }
    return tokens.length - 1;
  };
  while (i < tokens.length) {
    const t = tokens[i];
    switch (t.type) {
      case 'paragraph_open': {
        const gap = gapOf(t);
        const inline = tokens[i + 1];
        out.push({ type: 'paragraph', gap, children: inlineNodes(inline?.children ?? []) });
        i = closeOf(i) + 1;
        break;
      }
      case 'fence': {
        const lang = t.info.trim().split(/\s+/)[0] ?? '';
        out.push({ type: 'codeBlock', gap: gapOf(t), lang, text: t.content.replace(/\n$/, '') });
        i++;
        break;
      }
      case 'blockquote_open': {
        const gap = gapOf(t);
        const end = closeOf(i);
        out.push({ type: 'quote', gap, children: blockNodes(tokens.slice(i + 1, end)) });
        i = end + 1;
        break;
      }
      case 'bullet_list_open':
      case 'ordered_list_open': {
        const gap = gapOf(t);
        const end = closeOf(i);
        const items: MdBlock[][] = [];
        for (let j = i + 1; j < end; j++) {
          if (tokens[j].type !== 'list_item_open') continue;
          const itemEnd = closeOf(j);
          items.push(blockNodes(tokens.slice(j + 1, itemEnd)));
          j = itemEnd;
        }
        const start = Number(t.attrGet('start') ?? 1);
        out.push({ type: 'list', gap, ordered: t.type === 'ordered_list_open', start, items });
        i = end + 1;
        break;
      }
      default:
        i++;
    }
  }
  return out;
}

/** Parses message text into blocks. Pure: the same text always gives the same tree. */
export function parseMessage(content: string): MdBlock[] {
  parser ??= createParser();
  const src = discordLines(stripBidiControls(content));
  return blockNodes(parser.parse(src, {}));
}
