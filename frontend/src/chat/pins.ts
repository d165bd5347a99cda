// Pins: the pinned-messages list of a channel (GET /api/channels/:id/pins, most recently pinned first), kept live
// by `pin:update`, `message:updated` and `message:deleted`. Pure functions over the list.
import type { Id, Message, PinUpdateEvent } from '../api/types';

export interface PinsData {
  messages: Message[];
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

export function pinnedIds(data: PinsData | undefined): ReadonlySet<Id> {
  return new Set((data?.messages ?? []).map((m) => m.id));
}

/** Who may pin: anyone in a DM; owners and admins in a server. */
export function canPin(kind: 'dm' | 'server', role?: string): boolean {
  return kind === 'dm' || role === 'owner' || role === 'admin';
}
