// Delivery and read receipts for own messages in DMs. Receipts are monotonic per user: a receipt for message N
// covers every message up to N. Applying a receipt event is chat/messageEdits.ts (only live.ts does).
import type { Id } from '../api/types';
import { compareIds } from './ids';

export interface ChannelReceipts {
  delivered: Readonly<Record<Id, Id>>;
  read: Readonly<Record<Id, Id>>;
}

export const emptyReceipts: ChannelReceipts = { delivered: {}, read: {} };

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
