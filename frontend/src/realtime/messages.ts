// What the screens and the sender need of message events: a message gone, a pin changed, the listeners of
// others' new messages (notifications) and the settings their decisions read. The events themselves are handled
// in live.ts, loaded beside the socket client rather than with the chat screen.
import type { QueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id, Message, NotificationSettings, PinUpdateEvent } from '../api/types';
import { applyDelete } from '../chat/messageStore';
import type { IncomingDecision } from '../chat/incoming';
import { DEFAULT_SETTINGS, normalizeSettings, type Place } from '../chat/notify';
import { applyPinUpdate, pinsRemove, type PinsData } from '../chat/pins';
import { findLoaded, type OriginalsCache } from '../chat/replies';
import type { ChatStore } from './stores';

/** Someone else's message, as it arrived live (once per message), with what it should do. */
export interface IncomingMessage {
  message: Message;
  place: Place | undefined;
  decision: IncomingDecision;
}
type IncomingListener = (e: IncomingMessage) => void;

export interface MessageEventsDeps {
  qc: QueryClient;
  chat: ChatStore;
  originals: OriginalsCache;
}

export class MessageEvents {
  /** Told of someone else's new messages by live.ts. */
  readonly incoming = new Set<IncomingListener>();

  constructor(private readonly d: MessageEventsDeps) {}

  /** A message is gone (the event, or my delete acknowledged): from the list, the replies' originals and the pins. */
  deleted(channelId: Id, messageId: Id) {
    this.d.chat.update(channelId, (st) => applyDelete(st, messageId));
    this.d.originals.markDeleted(channelId, messageId);
    this.d.qc.setQueryData<PinsData>(qk.pins(channelId), (d) => pinsRemove(d, messageId));
  }

  /** Someone else's new messages, live (not history or catch-up), for notifications. */
  onIncoming(l: IncomingListener): () => void {
    this.incoming.add(l);
    return () => this.incoming.delete(l);
  }

  /** The notification settings: the cached answer of GET /api/me/settings, else the defaults. */
  settings(): NotificationSettings {
    const s = this.d.qc.getQueryData<NotificationSettings>(qk.settings);
    return s ? normalizeSettings(s) : DEFAULT_SETTINGS;
  }

  /** `pin:update`: the channel's pinned list, if cached, follows (the pinned message from what we hold, else refetched). */
  onPinUpdate(e: PinUpdateEvent) {
    if (!e?.channelId || !e.messageId) return;
    const { chat, originals, qc } = this.d;
    const cached = originals.get(e.channelId, e.messageId);
    const message = findLoaded(chat.getChannel(e.channelId), e.messageId) ?? (cached?.status === 'loaded' ? cached.message : undefined);
    const applied = applyPinUpdate(qc.getQueryData<PinsData>(qk.pins(e.channelId)), e, message);
    if (!applied) return;
    qc.setQueryData<PinsData>(qk.pins(e.channelId), applied.data);
    if (applied.refetch) void qc.invalidateQueries({ queryKey: qk.pins(e.channelId) });
  }
}
