// Pins: the pinned-messages list of a channel (GET /api/channels/:id/pins, most recently pinned first), kept live
// by `pin:update`, `message:updated` and `message:deleted` (applied by chat/messageEdits.ts). Pure functions over the list.
import type { Id, Message } from '../api/types';

export interface PinsData {
  messages: Message[];
}

export function pinnedIds(data: PinsData | undefined): ReadonlySet<Id> {
  return new Set((data?.messages ?? []).map((m) => m.id));
}

/** Who may pin: anyone in a DM; owners and admins in a server. */
export function canPin(kind: 'dm' | 'server', role?: string): boolean {
  return kind === 'dm' || role === 'owner' || role === 'admin';
}
