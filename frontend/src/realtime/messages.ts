// What the screens need of message events: the listeners of others' new messages (notifications) and the settings
// their decisions read. The events themselves (and what a message gone or a pin changed does) are handled in
// live.ts and messageEffects.ts, loaded beside the socket client rather than with the chat screen.
import type { QueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Message, NotificationSettings } from '../api/types';
import type { IncomingDecision } from '../chat/incoming';
import { DEFAULT_SETTINGS, normalizeSettings, type Place } from '../chat/notify';
import type { OriginalsCache } from '../chat/replies';
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
}
