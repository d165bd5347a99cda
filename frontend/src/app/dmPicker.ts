// Choosing people for a new conversation (issue #16, item 7): one person opens (or reopens) a 1:1 DM, 2–9 people
// make a group DM (POST /api/dms takes the others, 1–9 of them).
import type { Id, User } from '../api/types';
import { displayName } from './queries';

export const MAX_DM_OTHERS = 9;
export const MIN_GROUP_OTHERS = 2;

/** Adds `u` to the selection, or removes it if already there; never more than MAX_DM_OTHERS. */
export function toggleUser(selected: User[], u: User): User[] {
  if (selected.some((s) => s.id === u.id)) return selected.filter((s) => s.id !== u.id);
  if (selected.length >= MAX_DM_OTHERS) return selected;
  return [...selected, u];
}

/** People to suggest before any search: everyone from the given lists, once each, without me, by name. */
export function mergeCandidates(lists: (User[] | undefined)[], meId: Id, limit = 50): User[] {
  const byId = new Map<Id, User>();
  for (const list of lists) for (const u of list ?? []) if (u?.id && u.id !== meId && !byId.has(u.id)) byId.set(u.id, u);
  return [...byId.values()]
    .sort((a, b) => displayName(a).localeCompare(displayName(b), undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id))
    .slice(0, limit);
}
