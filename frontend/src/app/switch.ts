// The quick switcher's ranking (Ctrl+K) and the list of shortcuts (Ctrl+/): only the switcher's lazy chunk
// (components/Switcher.tsx) uses them, so they stay out of the chat screen's first load.
import type { Id } from '../api/types';

/**
 * How well `query` matches `text` (higher is better), or null for no match: every query character must appear in
 * order. A prefix beats a word start beats a contiguous run beats scattered letters; shorter names win ties.
 */
export function fuzzyScore(query: string, text: string): number | null {
  const q = query.trim().toLowerCase().replace(/^[#@]/, '');
  const t = text.toLowerCase();
  if (!q) return 0;
  if (t.startsWith(q)) return 1000 - t.length;
  const word = t.search(new RegExp(`(^|[\\s\\-_.,])${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  if (word >= 0) return 800 - t.length;
  const sub = t.indexOf(q);
  if (sub >= 0) return 600 - sub - t.length;
  let score = 400 - t.length;
  let pos = -1;
  for (const ch of q) {
    const next = t.indexOf(ch, pos + 1);
    if (next < 0) return null;
    score -= next - pos - 1; // gaps cost
    pos = next;
  }
  return score;
}

export type SwitchKind = 'channel' | 'dm' | 'server' | 'person';

export interface SwitchItem {
  kind: SwitchKind;
  /** Unique across kinds: `${kind}:${id}`. */
  key: string;
  label: string;
  /** Also matched: the server of a channel, a person's @username. */
  detail?: string;
  /** Where Enter goes; a person has none (their DM is opened or created). */
  path?: string;
  userId?: Id;
  unread?: boolean;
}

/**
 * The switcher's list for `query`: matches by label (or detail, a little lower), best first. With no query: unread
 * conversations first, then the rest in the given order (channels, DMs, servers; people only when searched).
 */
export function rankSwitch(items: SwitchItem[], query: string, limit = 12): SwitchItem[] {
  if (!query.trim()) {
    const shown = items.filter((i) => i.kind !== 'person');
    return [...shown.filter((i) => i.unread), ...shown.filter((i) => !i.unread)].slice(0, limit);
  }
  const scored: { item: SwitchItem; score: number; order: number }[] = [];
  items.forEach((item, order) => {
    const byLabel = fuzzyScore(query, item.label);
    const byDetail = item.detail ? fuzzyScore(query, item.detail) : null;
    const best = Math.max(byLabel ?? -Infinity, byDetail === null ? -Infinity : byDetail - 50);
    if (best === -Infinity) return;
    scored.push({ item, score: best + (item.unread ? 5 : 0), order });
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);
  // A person who already has a 1:1 DM in the list would be a second row for the same place.
  const seen = new Set<string>();
  const out: SwitchItem[] = [];
  for (const { item } of scored) {
    const same = item.kind === 'person' ? `dm-with:${item.userId}` : item.kind === 'dm' && item.userId ? `dm-with:${item.userId}` : item.key;
    if (seen.has(same)) continue;
    seen.add(same);
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

/** Every shortcut, as the list (Ctrl+/) shows it. */
export const SHORTCUTS: { keys: string[]; action: string }[] = [
  { keys: ['Ctrl', 'K'], action: 'Quick switcher: find a channel, conversation, server or person' },
  { keys: ['Alt', '↑ / ↓'], action: 'Previous / next channel or conversation' },
  { keys: ['Alt', 'Shift', '↑ / ↓'], action: 'Previous / next unread channel or conversation' },
  { keys: ['Esc'], action: 'Mark the channel read (in the message box); close a dialog or menu' },
  { keys: ['Shift', 'Page Up'], action: 'Jump to the first unread message' },
  { keys: ['↑'], action: 'Edit your last message (in an empty message box)' },
  { keys: ['Enter'], action: 'Send; Shift+Enter for a new line' },
  { keys: ['Ctrl', '/'], action: 'Show this list of shortcuts' },
];
