// What a message gone or a pin changed does to the screens' state: the list, the replies' originals, the pins.
// Called by live.ts (the events) and senderOps.ts (my own delete or pin, at once); loaded with them beside the
// socket client, not with the chat screen.
import { qk } from '../api/queryKeys';
import type { Id, PinUpdateEvent } from '../api/types';
import { applyDelete, applyPinUpdate, pinsRemove } from '../chat/messageEdits';
import type { PinsData } from '../chat/pins';
import { findLoaded } from '../chat/messageStore';
import type { MessageEventsDeps } from './messages';

/** A message is gone (the event, or my delete acknowledged): from the list, the replies' originals and the pins. */
export function messageDeleted(d: MessageEventsDeps, channelId: Id, messageId: Id) {
  d.chat.update(channelId, (st) => applyDelete(st, messageId));
  d.originals.markDeleted(channelId, messageId);
  d.qc.setQueryData<PinsData>(qk.pins(channelId), (p) => pinsRemove(p, messageId));
}

/** `pin:update`: the channel's pinned list, if cached, follows (the pinned message from what we hold, else refetched). */
export function pinUpdated(d: MessageEventsDeps, e: PinUpdateEvent) {
  if (!e?.channelId || !e.messageId) return;
  const { chat, originals, qc } = d;
  const cached = originals.get(e.channelId, e.messageId);
  const message = findLoaded(chat.getChannel(e.channelId), e.messageId) ?? (cached?.status === 'loaded' ? cached.message : undefined);
  const applied = applyPinUpdate(qc.getQueryData<PinsData>(qk.pins(e.channelId)), e, message);
  if (!applied) return;
  qc.setQueryData<PinsData>(qk.pins(e.channelId), applied.data);
  if (applied.refetch) void qc.invalidateQueries({ queryKey: qk.pins(e.channelId) });
}
