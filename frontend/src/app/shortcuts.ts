// Keyboard navigation as in Discord and Slack (issue #16): Alt+↑/↓ between channels, Alt+Shift+↑/↓ to the next
// unread one, Ctrl+K quick switcher, Ctrl+/ the list. Pure functions here; the key handling is in
// components/Shortcuts.tsx. The switcher's ranking and the shortcut list are in app/switch.ts, with the switcher's
// lazy chunk (the first paint draws neither).
import type { Id } from '../api/types';

/** One row of the channel (or DM) list in the order it is shown. */
export interface NavEntry {
  path: string;
  unread: boolean;
}

/**
 * The entry Alt+↑/↓ (dir -1/+1) moves to from `current`: the neighbour, wrapping around; with `unreadOnly` the
 * nearest unread one in that direction (null when none is unread). From outside the list, ↓ starts at the top and ↑
 * at the bottom.
 */
export function stepEntry(list: NavEntry[], current: string | null, dir: 1 | -1, unreadOnly = false): string | null {
  const n = list.length;
  if (n === 0) return null;
  const at = list.findIndex((e) => e.path === current);
  const start = at >= 0 ? at : dir === 1 ? -1 : n;
  for (let step = 1; step <= n; step++) {
    const e = list[(((start + dir * step) % n) + n) % n];
    if (e.path === current) continue;
    if (!unreadOnly || e.unread) return e.path;
  }
  return null;
}

/** Whether a keydown is one of the app-wide shortcuts, and which. */
export function shortcutFor(e: Pick<KeyboardEvent, 'key' | 'altKey' | 'shiftKey' | 'ctrlKey' | 'metaKey'>):
  | { kind: 'step'; dir: 1 | -1; unread: boolean }
  | { kind: 'switcher' }
  | { kind: 'help' }
  | { kind: 'first-unread' }
  | null {
  const mod = e.ctrlKey || e.metaKey;
  if (e.altKey && !mod && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    return { kind: 'step', dir: e.key === 'ArrowUp' ? -1 : 1, unread: e.shiftKey };
  }
  if (mod && !e.altKey && (e.key === 'k' || e.key === 'K')) return { kind: 'switcher' };
  if (mod && !e.altKey && e.key === '/') return { kind: 'help' };
  if (e.shiftKey && !mod && !e.altKey && e.key === 'PageUp') return { kind: 'first-unread' };
  return null;
}

/**
 * The first unread message when a channel is opened with `unreadCount` unread: counting back that many messages from
 * others (my own never count as unread). Null when nothing is unread; the oldest loaded one when the unread run
 * starts before what is loaded.
 */
export function firstUnreadId(messages: { id: Id; senderId: Id }[], unreadCount: number, meId: Id): Id | null {
  if (unreadCount <= 0 || messages.length === 0) return null;
  let left = unreadCount;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].senderId === meId) continue;
    left--;
    if (left === 0) return messages[i].id;
  }
  return messages[0].id;
}
