// Pure functions over a message's reactions (the `reactions` of a Message): live updates, the caller's own
// toggles (applied at once, then confirmed or undone by the ack), and the "who reacted" text.
import type { Id, Reaction, ReactionUpdateEvent } from '../api/types';

/** How many user ids the server lists per emoji. */
export const PREVIEW_USERS = 10;

function same(a: Reaction, b: Reaction): boolean {
  return a.emoji === b.emoji && a.count === b.count && a.me === b.me && a.userIds.length === b.userIds.length && a.userIds.every((u, i) => u === b.userIds[i]);
}

/** Replaces (or adds, last) one emoji's reaction; count 0 removes it. Returns `list` itself when nothing changed. */
export function setReaction(list: Reaction[] | undefined, r: Reaction): Reaction[] {
  const cur = list ?? [];
  const i = cur.findIndex((x) => x.emoji === r.emoji);
  if (r.count <= 0) return i < 0 ? cur : cur.filter((_, j) => j !== i);
  if (i >= 0 && same(cur[i], r)) return cur;
  if (i < 0) return [...cur, r];
  const next = cur.slice();
  next[i] = r;
  return next;
}

/** `reaction:update`: the server's count and first users are authoritative; `me` changes only for my own. */
export function applyReactionEvent(list: Reaction[] | undefined, ev: ReactionUpdateEvent, meId: Id): Reaction[] {
  const cur = list?.find((r) => r.emoji === ev.emoji);
  const me = ev.userId === meId ? ev.action === 'add' : (cur?.me ?? false);
  return setReaction(list, { emoji: ev.emoji, count: ev.count, me, userIds: ev.userIds ?? [] });
}

/** My own toggle, shown before the server answers. */
export function toggleMine(list: Reaction[] | undefined, emoji: string, meId: Id, add: boolean): Reaction[] {
  const cur = list?.find((r) => r.emoji === emoji);
  if ((cur?.me ?? false) === add) return list ?? [];
  if (add) {
    const userIds = cur ? cur.userIds : [];
    return setReaction(list, {
      emoji,
      count: (cur?.count ?? 0) + 1,
      me: true,
      userIds: userIds.length < PREVIEW_USERS ? [...userIds, meId] : userIds,
    });
  }
  return setReaction(list, { emoji, count: Math.max(0, (cur?.count ?? 1) - 1), me: false, userIds: (cur?.userIds ?? []).filter((u) => u !== meId) });
}

/** "Ann and Bob reacted with 👍", "You, Ann and 3 others reacted with 👍". Names are in reaction order. */
export function reactedText(names: string[], count: number, emoji: string): string {
  const shown = names.slice(0, PREVIEW_USERS);
  const others = Math.max(0, count - shown.length);
  const parts = others > 0 ? [...shown, `${others} other${others === 1 ? '' : 's'}`] : shown;
  let who: string;
  if (parts.length === 0) who = 'Nobody';
  else if (parts.length === 1) who = parts[0];
  else who = `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return `${who} reacted with ${emoji}`;
}

/** Emoji offered first in the add-reaction menu, before the full picker loads. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
