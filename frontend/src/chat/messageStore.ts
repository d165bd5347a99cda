// Pure functions over one channel's message list. Every function returns a new state (or the same object when
// nothing changed), so React can compare by reference. Confirmed messages are kept sorted by id (ids sort by
// creation time) and unique by id; own unconfirmed sends live in `pending`, matched to their stored message by
// nonce, and always display after the confirmed ones.
import type { Attachment, Id, Message, Reaction } from '../api/types';
import { compareIds } from './ids';

export type LocalState = 'pending' | 'failed';

export interface PendingMessage {
  nonce: string;
  channelId: Id;
  senderId: Id;
  content: string;
  /** Local time the user pressed send (ISO). */
  createdAt: string;
  state: LocalState;
  error?: string;
  /** Sends attempted so far (automatic retries and manual ones). */
  attempts: number;
  /** The message this one answers (sent as `replyTo`). */
  replyTo?: Id | null;
  /** Files already uploaded, sent by id. */
  attachments?: Attachment[];
}

export interface ChannelMessages {
  /** Confirmed messages, ascending by id, unique by id. */
  messages: Message[];
  /** Own sends not yet confirmed, in send order. */
  pending: PendingMessage[];
  /** Ids deleted while loaded, so a late page or event cannot bring them back. */
  deleted: ReadonlySet<Id>;
  /** Older history exists on the server. */
  hasMoreOlder: boolean;
  /**
   * Newer history exists on the server than the newest message held: the list is a window into the past (opened
   * with `?around=`, to jump to an old message). Events newer than the window are not merged (they would leave a
   * gap); paging forward with `?after=` (or "Jump to present", which reloads the newest page) closes it.
   */
  hasMoreNewer?: boolean;
  /** The newest page has been loaded, so events and catch-up keep this list complete up to now. */
  loaded: boolean;
  /** How many messages were inserted before the first one (lets a virtualized list keep its scroll anchor). */
  prepended: number;
  /** Bumped when history is replaced wholesale (a gap closed by refetching the newest page). */
  epoch: number;
}

export function emptyChannel(): ChannelMessages {
  return { messages: [], pending: [], deleted: new Set(), hasMoreOlder: true, loaded: false, prepended: 0, epoch: 0 };
}

function editedTime(m: Message): number {
  return m.editedAt ? Date.parse(m.editedAt) || 0 : 0;
}

/** The newer version of the same message (an edit beats the original; on a tie the incoming copy wins). */
function newer(existing: Message, incoming: Message): Message {
  if (editedTime(incoming) < editedTime(existing)) {
    // Keep the edit but take fields only the incoming copy may carry (e.g. `read`, `reactions`).
    let kept = existing;
    if (incoming.read !== undefined && incoming.read !== existing.read) kept = { ...kept, read: incoming.read };
    if (incoming.reactions !== undefined) kept = { ...kept, reactions: incoming.reactions };
    return kept;
  }
  const merged = { ...existing, ...incoming };
  if (incoming.read === undefined && existing.read !== undefined) merged.read = existing.read;
  // Message events carry no reactions: keep the ones we have (history pages always carry them).
  if (incoming.reactions === undefined && existing.reactions !== undefined) merged.reactions = existing.reactions;
  return merged;
}

function sameReactions(a: Reaction[] | undefined, b: Reaction[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every(
    (r, i) => r.emoji === b[i].emoji && r.count === b[i].count && r.me === b[i].me && r.userIds.join(',') === b[i].userIds.join(','),
  );
}

function sameMessage(a: Message, b: Message): boolean {
  return (
    a.content === b.content && a.editedAt === b.editedAt && a.read === b.read && a.timestamp === b.timestamp && sameReactions(a.reactions, b.reactions)
  );
}

/** Merges `incoming` into the sorted, unique list `list`. Returns `list` itself when nothing changed. */
export function mergeSorted(list: Message[], incoming: Message[], deleted?: ReadonlySet<Id>): Message[] {
  const fresh = incoming.filter((m) => m && typeof m.id === 'string' && !deleted?.has(m.id));
  if (fresh.length === 0) return list;
  const byId = new Map<Id, Message>();
  for (const m of list) byId.set(m.id, m);
  let changed = false;
  for (const m of fresh) {
    const existing = byId.get(m.id);
    if (!existing) {
      byId.set(m.id, m);
      changed = true;
      continue;
    }
    const merged = newer(existing, m);
    if (merged !== existing && !sameMessage(merged, existing)) {
      byId.set(m.id, merged);
      changed = true;
    }
  }
  if (!changed) return list;
  // Nearly sorted input: the engine's merge sort makes this close to linear.
  return [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
}

export function dropPendingFor(pending: PendingMessage[], msgs: Message[]): PendingMessage[] {
  if (pending.length === 0) return pending;
  const nonces = new Set<string>();
  for (const m of msgs) if (m.nonce) nonces.add(m.nonce);
  if (nonces.size === 0) return pending;
  const next = pending.filter((p) => !nonces.has(p.nonce));
  return next.length === pending.length ? pending : next;
}

/** Messages arriving from the server (event, ack, catch-up): each replaces the pending send with its nonce. */
export function receiveMessages(state: ChannelMessages, msgs: Message[]): ChannelMessages {
  if (msgs.length === 0) return state;
  const pending = dropPendingFor(state.pending, msgs);
  const newest = state.hasMoreNewer ? newestId(state) : null;
  const inWindow = newest === null ? msgs : msgs.filter((m) => compareIds(m.id, newest) <= 0);
  const messages = mergeSorted(state.messages, inWindow, state.deleted);
  if (pending === state.pending && messages === state.messages) return state;
  return { ...state, messages, pending };
}

export const receiveMessage = (state: ChannelMessages, msg: Message) => receiveMessages(state, [msg]);

/** The ack of `message:send`: same as receiving the stored message. */
export const ackPending = (state: ChannelMessages, _nonce: string, msg: Message) => receiveMessage(state, msg);

export function addPending(state: ChannelMessages, p: Omit<PendingMessage, 'state' | 'attempts'> & Partial<PendingMessage>): ChannelMessages {
  if (state.pending.some((x) => x.nonce === p.nonce) || state.messages.some((m) => m.nonce === p.nonce)) return state;
  const item: PendingMessage = { state: 'pending', attempts: 0, ...p };
  return { ...state, pending: [...state.pending, item] };
}

/**
 * The newest page (GET with no cursor). Everything older than the page is dropped, since there may be a gap between
 * it and the page; messages newer than the page's oldest (events that raced the request) are kept.
 */
export function applyNewestPage(state: ChannelMessages, page: Message[], hasMore: boolean): ChannelMessages {
  const sorted = mergeSorted([], page, state.deleted);
  const oldest = sorted[0]?.id;
  const keep = oldest === undefined ? state.messages : state.messages.filter((m) => compareIds(m.id, oldest) > 0);
  const hadGap = state.loaded && state.messages.length > 0 && keep.length < state.messages.length;
  const messages = mergeSorted(sorted, keep, state.deleted);
  return {
    ...state,
    messages,
    pending: dropPendingFor(state.pending, sorted),
    hasMoreOlder: hasMore,
    hasMoreNewer: false,
    loaded: true,
    prepended: hadGap ? 0 : state.prepended,
    epoch: hadGap ? state.epoch + 1 : state.epoch,
  };
}

/** A loaded message by id (a binary search over the sorted list). */
export function findLoaded(state: ChannelMessages | undefined, id: Id): Message | undefined {
  const list = state?.messages;
  if (!list?.length) return undefined;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareIds(list[mid].id, id);
    if (c === 0) return list[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

export function newestId(state: ChannelMessages | undefined): Id | null {
  const m = state?.messages;
  return m && m.length ? m[m.length - 1].id : null;
}

export function oldestId(state: ChannelMessages | undefined): Id | null {
  return state?.messages[0]?.id ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// Display

export type ItemState = 'sent' | 'pending' | 'failed';

export interface ChatItem {
  /** Stable React key: the message id, or `nonce:<nonce>` while unconfirmed. */
  key: string;
  id: Id | null;
  nonce: string;
  channelId: Id;
  senderId: Id;
  content: string;
  timestamp: string;
  editedAt?: string | null;
  read?: boolean;
  mentions?: Id[];
  mentionEveryone?: boolean;
  reactions?: Reaction[];
  /** The answered message's id, if this is a reply. */
  replyTo?: Id | null;
  /** "pin": the system line "<sender> pinned a message" (replyTo = the pinned message). */
  type?: 'default' | 'pin' | 'encryption';
  attachments?: Attachment[];
  /** MLS ciphertext of an encrypted DM (content is base64; the lazy E2EE part shows it). */
  encrypted?: boolean;
  state: ItemState;
  error?: string;
  /** First message of a run by the same author: shows the author and full time. */
  groupStart: boolean;
  /** First message of a calendar day (local time): shows a date divider. */
  dayStart: boolean;
}

export const GROUP_WINDOW_MS = 5 * 60_000;

function dayKey(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** Flags group and day starts: consecutive messages by one author within `windowMs` of the previous one group. */
export function groupItems<T extends Omit<ChatItem, 'groupStart' | 'dayStart'> & { replyTo?: Id | null; type?: string }>(
  items: T[],
  windowMs = GROUP_WINDOW_MS,
): (T & { groupStart: boolean; dayStart: boolean })[] {
  const out: (T & { groupStart: boolean; dayStart: boolean })[] = [];
  let prev: T | undefined;
  let prevTime = 0;
  for (const it of items) {
    const t = Date.parse(it.timestamp) || 0;
    const dayStart = !prev || dayKey(prevTime) !== dayKey(t);
    const groupStart =
      !prev ||
      dayStart ||
      prev.senderId !== it.senderId ||
      t - prevTime > windowMs ||
      t < prevTime ||
      // A reply shows its own header (the quote sits above it), and system lines never group.
      !!it.replyTo ||
      (prev.type !== undefined && prev.type !== 'default') ||
      (it.type !== undefined && it.type !== 'default');
    out.push({ ...it, groupStart, dayStart });
    prev = it;
    prevTime = t;
  }
  return out;
}

/** Confirmed messages then pending sends, grouped, ready to render. */
export function toItems(state: ChannelMessages | undefined, windowMs = GROUP_WINDOW_MS): ChatItem[] {
  if (!state) return [];
  const raw: Omit<ChatItem, 'groupStart' | 'dayStart'>[] = [];
  for (const m of state.messages) {
    raw.push({
      key: m.id,
      id: m.id,
      nonce: m.nonce,
      channelId: m.channelId,
      senderId: m.senderId,
      content: m.content,
      timestamp: m.timestamp,
      editedAt: m.editedAt,
      read: m.read,
      mentions: m.mentions,
      mentionEveryone: m.mentionEveryone,
      reactions: m.reactions,
      replyTo: m.replyTo ?? null,
      type: m.type === 'pin' || m.type === 'encryption' ? m.type : 'default',
      attachments: m.attachments,
      encrypted: m.encrypted,
      state: 'sent',
    });
  }
  for (const p of state.pending) {
    raw.push({
      key: `nonce:${p.nonce}`,
      id: null,
      nonce: p.nonce,
      channelId: p.channelId,
      senderId: p.senderId,
      content: p.content,
      timestamp: p.createdAt,
      replyTo: p.replyTo ?? null,
      attachments: p.attachments,
      state: p.state,
      error: p.error,
    });
  }
  return groupItems(raw, windowMs);
}
