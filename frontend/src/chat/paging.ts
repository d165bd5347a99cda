// Paging beyond the newest page, over one channel's message list: older pages, a window around a message (jumps)
// and newer pages of that window. Pure functions, moved unchanged from chat/messageStore.ts so that they load with
// the paging code (realtime/paging.ts, a chunk of its own) rather than with the chat screen.
import type { Id, Message } from '../api/types';
import { compareIds } from './ids';
import { dropPendingFor, mergeSorted, type ChannelMessages } from './messageStore';

/**
 * An older page (GET ?before=, newest first on the wire). Counts how many messages landed before the previous
 * first one, for scroll anchoring.
 */
export function applyOlderPage(state: ChannelMessages, page: Message[], hasMore: boolean): ChannelMessages {
  const firstId = state.messages[0]?.id;
  const messages = mergeSorted(state.messages, page, state.deleted);
  let added = 0;
  if (firstId !== undefined) {
    while (added < messages.length && compareIds(messages[added].id, firstId) < 0) added++;
  } else {
    added = 0;
  }
  return { ...state, messages, hasMoreOlder: hasMore, prepended: state.prepended + added };
}

/**
 * A page around `aroundId` (GET ?around=&limit=, oldest first): the server takes up to ceil(limit/2) messages up to
 * and including `aroundId` and fills the rest with newer ones, with one `hasMore` for both sides. A side that came
 * back short has no more; a full side may (the flag tells). When the page reaches what is already held
 * (contiguously), it is merged; otherwise it replaces history as a window into the past (`hasMoreNewer`), with a
 * new epoch so the list remounts at the target.
 */
export function applyAroundPage(state: ChannelMessages, aroundId: Id, page: Message[], hasMore: boolean, limit: number): ChannelMessages {
  const olderCount = page.filter((m) => compareIds(m.id, aroundId) <= 0).length;
  const newerCount = page.length - olderCount;
  const moreOlder = olderCount >= Math.ceil(limit / 2) && hasMore;
  const moreNewer = newerCount >= limit - olderCount && hasMore;
  const sorted = mergeSorted([], page, state.deleted);
  const held = state.messages;
  const first = sorted[0]?.id;
  const last = sorted[sorted.length - 1]?.id;
  const heldLast = held[held.length - 1]?.id;
  // The page overlaps what we hold, or both reach the present: merging leaves no gap.
  const connects =
    state.loaded &&
    heldLast !== undefined &&
    first !== undefined &&
    last !== undefined &&
    ((compareIds(last, held[0].id) >= 0 && compareIds(first, heldLast) <= 0) || (!moreNewer && !state.hasMoreNewer));
  if (connects) {
    const hasMoreOlder = compareIds(first, held[0].id) < 0 ? moreOlder : state.hasMoreOlder;
    const merged = applyOlderPage(state, sorted, hasMoreOlder);
    // A window the page extends forward: its newer side is now the page's.
    return state.hasMoreNewer && compareIds(last, heldLast) > 0 ? { ...merged, hasMoreNewer: moreNewer } : merged;
  }
  return {
    ...state,
    messages: sorted,
    hasMoreOlder: moreOlder,
    hasMoreNewer: moreNewer,
    loaded: true,
    prepended: 0,
    epoch: state.epoch + 1,
  };
}

/**
 * A newer page (GET ?after=<newest held>, oldest first) while the list is a window into the past. When the server
 * has nothing more, the window has reached the present (the caller then catches up from the newest id, for events
 * that arrived while the page was in flight).
 */
export function applyNewerPage(state: ChannelMessages, page: Message[], hasMore: boolean): ChannelMessages {
  const messages = mergeSorted(state.messages, page, state.deleted);
  return { ...state, messages, pending: dropPendingFor(state.pending, page), hasMoreNewer: hasMore };
}
