// The composer's `@` / `#` autocomplete: the mention being typed at the caret, the members or channels it matches,
// and the text a pick inserts. Pure functions, moved unchanged from chat/mentions.ts; part of the autocomplete's
// lazy chunk (components/MentionOptions.tsx).
import type { Id } from '../api/types';

export type MentionTrigger = '@' | '#';

/** The `@…` or `#…` word being typed at the caret: [start, end) covers the trigger and the query. */
export interface MentionQuery {
  trigger: MentionTrigger;
  query: string;
  start: number;
  end: number;
}

// What a query may contain: usernames are [A-Za-z0-9_.-]; display names and channel names may hold any letter.
const QUERY_CHAR = /[\p{L}\p{N}_.-]/u;
const MAX_QUERY = 32;

/**
 * The mention being typed where the caret is, if any: a `@` or `#` at the start of the text or after whitespace or an
 * opening bracket, followed by up to 32 name characters up to the caret. `a@b` (an e-mail address) is not one.
 */
export function findMentionQuery(value: string, caret: number): MentionQuery | null {
  if (caret < 1 || caret > value.length) return null;
  let i = caret;
  while (i > 0 && caret - i <= MAX_QUERY && QUERY_CHAR.test(value[i - 1]) && value[i - 1] !== '@' && value[i - 1] !== '#') i--;
  if (i === 0 || caret - i > MAX_QUERY) return null;
  const trigger = value[i - 1];
  if (trigger !== '@' && trigger !== '#') return null;
  const before = i >= 2 ? value[i - 2] : '';
  if (before && !/[\s([{"'>]/.test(before)) return null;
  // The word continues after the caret (editing inside a name): it is replaced whole.
  let end = caret;
  while (end < value.length && QUERY_CHAR.test(value[end])) end++;
  return { trigger, query: value.slice(i, caret), start: i - 1, end };
}

export interface MemberCandidate {
  id: Id;
  username: string;
  displayName: string;
}

export type MentionOption =
  | { kind: 'user'; id: Id; username: string; displayName: string; insert: string }
  | { kind: 'special'; id: 'everyone' | 'here'; label: string; insert: string }
  | { kind: 'channel'; id: Id; name: string; insert: string };

const SPECIALS = [
  { id: 'everyone', label: 'Notify everyone in this channel.' },
  { id: 'here', label: 'Notify everyone online in this channel.' },
] as const;

/** 0 for the best match; -1 for none. */
function score(q: string, username: string, display: string): number {
  const u = username.toLowerCase();
  const d = display.toLowerCase();
  if (!q) return 0;
  if (u.startsWith(q)) return 1;
  if (d.startsWith(q)) return 2;
  if (d.split(/\s+/).some((w) => w.startsWith(q))) return 3;
  if (u.includes(q)) return 4;
  if (d.includes(q)) return 5;
  return -1;
}

export const MAX_OPTIONS = 8;

/**
 * Members matching the query (username or display name; prefix first, then substring; case-insensitive), then
 * `@everyone` / `@here` when the user may use them. Picking an option inserts `@username`.
 */
export function matchMembers(
  members: MemberCandidate[],
  query: string,
  { allowEveryone = false, limit = MAX_OPTIONS }: { allowEveryone?: boolean; limit?: number } = {},
): MentionOption[] {
  const q = query.toLowerCase();
  const seen = new Set<Id>();
  const scored: { s: number; m: MemberCandidate }[] = [];
  for (const m of members) {
    if (!m?.id || seen.has(m.id)) continue;
    seen.add(m.id);
    const s = score(q, m.username, m.displayName || m.username);
    if (s >= 0) scored.push({ s, m });
  }
  scored.sort((a, b) => a.s - b.s || nameOf(a.m).localeCompare(nameOf(b.m)) || a.m.username.localeCompare(b.m.username));
  const out: MentionOption[] = scored.slice(0, limit).map(({ m }) => ({
    kind: 'user',
    id: m.id,
    username: m.username,
    displayName: nameOf(m),
    insert: `@${m.username}`,
  }));
  if (allowEveryone) {
    for (const sp of SPECIALS) {
      if (out.length >= limit) break;
      if (sp.id.startsWith(q)) out.push({ kind: 'special', id: sp.id, label: sp.label, insert: `@${sp.id}` });
    }
  }
  return out;
}

const nameOf = (m: MemberCandidate) => m.displayName?.trim() || m.username;

/** A server's channels matching the query (prefix first, then substring). Picking one inserts `#name`. */
export function matchChannels(channels: { id: Id; name: string }[], query: string, limit = MAX_OPTIONS): MentionOption[] {
  const q = query.toLowerCase();
  const scored: { s: number; c: { id: Id; name: string } }[] = [];
  for (const c of channels) {
    const n = c.name.toLowerCase();
    const s = !q || n.startsWith(q) ? 0 : n.split(/[-_]/).some((w) => w.startsWith(q)) ? 1 : n.includes(q) ? 2 : -1;
    if (s >= 0) scored.push({ s, c });
  }
  scored.sort((a, b) => a.s - b.s || a.c.name.localeCompare(b.c.name));
  return scored.slice(0, limit).map(({ c }) => ({ kind: 'channel', id: c.id, name: c.name, insert: `#${c.name}` }));
}

/** Replaces the query with the picked text and one space; the caret goes after the space. */
export function applyCompletion(value: string, q: Pick<MentionQuery, 'start' | 'end'>, insert: string): { value: string; caret: number } {
  const rest = value.slice(q.end);
  const spaced = rest.startsWith(' ') ? insert : `${insert} `;
  const next = value.slice(0, q.start) + spaced + rest;
  const caret = q.start + spaced.length + (rest.startsWith(' ') ? 1 : 0);
  return { value: next, caret };
}
