// Message ids are decimal strings of 64-bit ints. Numbers cannot hold them exactly, so compare them as strings:
// a shorter string is a smaller number; equal lengths compare lexicographically.
import type { Id } from '../api/types';

function norm(id: Id): string {
  return id.length > 1 && id.charCodeAt(0) === 48 /* '0' */ ? id.replace(/^0+(?=\d)/, '') : id;
}

export function compareIds(a: Id, b: Id): number {
  const x = norm(a);
  const y = norm(b);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

export const idGreater = (a: Id, b: Id) => compareIds(a, b) > 0;

/** The larger of two ids; null counts as smaller than anything. */
export function maxId(a: Id | null | undefined, b: Id | null | undefined): Id | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return compareIds(a, b) >= 0 ? a : b;
}
