// Changes that only the live side makes (realtime/live.ts and senderOps.ts, a chunk beside the socket client): send
// attempts, failures and discards of my pending sends, edits, deletes and reactions (over chat/messageStore.ts's
// state), read receipts (chat/receipts.ts), and pins and edited messages in a pins list (chat/pins.ts). Pure
// functions, apart from the state they change so that the chat screen's first load does not carry them.
import type { Id, Message, PinUpdateEvent, Reaction, ReceiptEvent } from '../api/types';
import { maxId } from './ids';
import { mergeSorted, type ChannelMessages, type PendingMessage } from './messageStore';
import type { PinsData } from './pins';
import type { ChannelReceipts } from './receipts';

function updatePending(state: ChannelMessages, nonce: string, fn: (p: PendingMessage) => PendingMessage | null): ChannelMessages {
  const idx = state.pending.findIndex((p) => p.nonce === nonce);
  if (idx < 0) return state;
  const next = fn(state.pending[idx]);
  const pending = state.pending.slice();
  if (next) pending[idx] = next;
  else pending.splice(idx, 1);
  return { ...state, pending };
}

/** A send attempt is starting (first try, automatic retry or the Retry button). */
export const markSending = (state: ChannelMessages, nonce: string) =>
  updatePending(state, nonce, (p) => ({ ...p, state: 'pending', error: undefined, attempts: p.attempts + 1 }));

export const markFailed = (state: ChannelMessages, nonce: string, error: string) =>
  updatePending(state, nonce, (p) => ({ ...p, state: 'failed', error }));

export const discardPending = (state: ChannelMessages, nonce: string) => updatePending(state, nonce, () => null);

export function findPending(state: ChannelMessages | undefined, nonce: string): PendingMessage | undefined {
  return state?.pending.find((p) => p.nonce === nonce);
}

/** `message:updated` or an edit ack: replaces a loaded message; unknown ids are ignored. */
export function applyUpdate(state: ChannelMessages, msg: Message): ChannelMessages {
  if (!state.messages.some((m) => m.id === msg.id)) return state;
  const messages = mergeSorted(state.messages, [msg], state.deleted);
  return messages === state.messages ? state : { ...state, messages };
}

/** Changes one loaded message's reactions (unknown ids are ignored). */
export function updateReactions(state: ChannelMessages, messageId: Id, fn: (r: Reaction[] | undefined) => Reaction[]): ChannelMessages {
  const i = state.messages.findIndex((m) => m.id === messageId);
  if (i < 0) return state;
  const cur = state.messages[i];
  const reactions = fn(cur.reactions);
  if (reactions === cur.reactions || (reactions.length === 0 && !cur.reactions)) return state;
  const messages = state.messages.slice();
  messages[i] = { ...cur, reactions };
  return { ...state, messages };
}

export function applyReceipt(state: ChannelReceipts, kind: 'delivered' | 'read', ev: ReceiptEvent): ChannelReceipts {
  const cur = state[kind][ev.userId];
  const next = maxId(cur, ev.messageId);
  if (next === cur) return state;
  const updated = { ...state, [kind]: { ...state[kind], [ev.userId]: next } };
  // Reading implies delivery.
  if (kind === 'read') {
    const d = state.delivered[ev.userId];
    if (maxId(d, ev.messageId) !== d) updated.delivered = { ...state.delivered, [ev.userId]: ev.messageId };
  }
  return updated;
}

export function pinsUpdateMessage(data: PinsData | undefined, m: Message): PinsData | undefined {
  if (!data || !data.messages.some((x) => x.id === m.id)) return data;
  return { messages: data.messages.map((x) => (x.id === m.id ? { ...x, ...m } : x)) };
}

export function applyDelete(state: ChannelMessages, messageId: Id): ChannelMessages {
  if (state.deleted.has(messageId)) return state;
  const deleted = new Set(state.deleted);
  deleted.add(messageId);
  return { ...state, deleted, messages: state.messages.filter((m) => m.id !== messageId) };
}

export interface PinApplied {
  data: PinsData;
  /** A pin of a message we do not have: refetch the list. */
  refetch: boolean;
}

/** Applies `pin:update`; `message` is the pinned message when it is known locally (loaded or cached). */
export function applyPinUpdate(data: PinsData | undefined, ev: PinUpdateEvent, message?: Message): PinApplied | null {
  if (!data) return null;
  const rest = data.messages.filter((m) => m.id !== ev.messageId);
  if (!ev.pinned) return { data: rest.length === data.messages.length ? data : { messages: rest }, refetch: false };
  if (!message) return { data, refetch: !data.messages.some((m) => m.id === ev.messageId) };
  return { data: { messages: [message, ...rest] }, refetch: false };
}

export function pinsRemove(data: PinsData | undefined, messageId: Id): PinsData | undefined {
  if (!data || !data.messages.some((m) => m.id === messageId)) return data;
  return { messages: data.messages.filter((m) => m.id !== messageId) };
}
