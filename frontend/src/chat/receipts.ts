// Delivery and read receipts for own messages in DMs. Receipts are monotonic per user: a receipt for message N
// covers every message up to N.
import type { Id, ReceiptEvent } from '../api/types';
import { compareIds, maxId } from './ids';

export interface ChannelReceipts {
  delivered: Readonly<Record<Id, Id>>;
  read: Readonly<Record<Id, Id>>;
}

export const emptyReceipts: ChannelReceipts = { delivered: {}, read: {} };

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

export type ReceiptStatus = 'pending' | 'failed' | 'sent' | 'delivered' | 'seen';

/**
 * The status of an own message `id` seen by `others` (the other participants). Seen/delivered need every other
 * participant. `readFlag` is the message's own `read` field from history, when the server sent one.
 */
export function receiptStatus(id: Id, others: Id[], r: ChannelReceipts, readFlag?: boolean): ReceiptStatus {
  if (readFlag) return 'seen';
  if (others.length === 0) return 'sent';
  const covers = (m: Readonly<Record<Id, Id>>) => others.every((u) => m[u] !== undefined && compareIds(m[u], id) >= 0);
  if (covers(r.read)) return 'seen';
  if (covers(r.delivered)) return 'delivered';
  return 'sent';
}
