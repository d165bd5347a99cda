// Everything live for one logged-in session, as small stores behind this coordinator (Element's SDKContext is the
// model): the connection (connection.ts), message events (messages.ts), history and catch-up (history.ts),
// sending (sending.ts), typing (typing.ts), presence (presence.ts), read state (readState.ts), servers/channels/
// members and removal notices (membership.ts), and the E2EE hooks (e2ee.ts). The coordinator makes each with
// what it needs, wires the socket's events to them and does what a (re)connect needs of several. Framework-free;
// RealtimeProvider exposes it.
import type { QueryClient } from '@tanstack/react-query';
import type { AuthManager } from '../api/auth';
import type { Api } from '../api/endpoints';
import { qk } from '../api/queryKeys';
import type { SocketFactory } from '../api/socket';
import type { Id } from '../api/types';
import { normalizeSettings } from '../chat/notify';
import { OriginalsCache } from '../chat/replies';
import { Connection } from './connection';
import { E2EEHooks } from './e2ee';
import { history, type History } from './history';
import { membership, type Membership } from './membership';
import { MessageEvents } from './messages';
import { PresenceTracker } from './presence';
import { ReadState } from './readState';
import { Sender } from './sending';
import { ChatStore } from './stores';
import { TypingStore } from './typing';

export { IDLE_AFTER_MS } from './presence';
export type { RemovalNotice } from './membership';
export type { IncomingMessage } from './messages';

export interface RealtimeDeps {
  auth: AuthManager;
  api: Api;
  queryClient: QueryClient;
  meId: Id;
  socketFactory?: SocketFactory;
}

export class Realtime {
  readonly chat = new ChatStore();
  readonly sockets: Connection;
  readonly typing: TypingStore;
  readonly presence: PresenceTracker;
  readonly read: ReadState;
  readonly messages: MessageEvents;
  readonly history: History;
  readonly sender: Sender;
  readonly membership: Membership;
  readonly e2ee: E2EEHooks;
  /** Replies' originals that are not loaded (fetched one by one, see chat/replies.ts). */
  readonly originals: OriginalsCache;
  readonly meId: Id;
  private readonly api: Api;
  private readonly qc: QueryClient;

  constructor(deps: RealtimeDeps) {
    const { api, queryClient: qc, meId, auth } = deps;
    const chat = this.chat;
    this.api = api;
    this.qc = qc;
    this.meId = meId;
    const conn = (this.sockets = new Connection(auth, deps.socketFactory));
    const originals = (this.originals = new OriginalsCache((channelId, messageId) => api.message(channelId, messageId)));
    const typing = (this.typing = new TypingStore(conn, meId));
    const presence = (this.presence = new PresenceTracker(conn, api, meId));
    const read = (this.read = new ReadState(conn, qc, chat, meId));
    const messages = (this.messages = new MessageEvents({ conn, qc, chat, originals, typing, read, meId }));
    this.history = history({ conn, api, qc, chat, read, meId });
    const e2ee = (this.e2ee = new E2EEHooks(qc, auth, meId));
    this.sender = new Sender({ conn, api, qc, chat, e2ee, messages, meId });
    this.membership = membership(qc, chat, meId, (ids) => presence.want(ids));
    this.wire();
  }

  /** Own messages waiting to be stored (the sender's outbox). */
  get outbox() {
    return this.sender.outbox;
  }

  start() {
    // The block list decides which incoming messages count (messages.ts): have it before the first one arrives.
    void this.qc.prefetchQuery({ queryKey: qk.blocked, queryFn: () => this.api.blocked(), staleTime: 5 * 60_000 });
    this.sockets.start();
    this.presence.startIdleTracking();
  }

  stop() {
    this.outbox.stop();
    this.sockets.stop();
    this.presence.stop();
    this.read.stop();
    this.typing.stop();
  }

  private wire() {
    const { qc, presence, outbox } = this;
    this.sockets.onConnect((first) => {
      presence.hello();
      if (!first) {
        // Lists (unread counts, new servers/DMs) may have moved while we were away.
        void qc.invalidateQueries({ queryKey: qk.servers });
        void qc.invalidateQueries({ queryKey: qk.dms });
        void qc.invalidateQueries({ queryKey: qk.channelsAll });
        void qc.invalidateQueries({ queryKey: qk.settings });
        void qc.invalidateQueries({ queryKey: qk.pinsAll }); // pin:update events missed while away
        presence.refresh();
      }
      // Queued sends wait for catch-up, so a message stored before the connection dropped (its ack lost) is
      // recognised by its nonce and not sent again, however long the page was offline.
      outbox.pause();
      void this.history
        .catchUp()
        .catch(() => undefined)
        .finally(() => outbox.resume());
    });
    // The socket client is a chunk of its own (api/socket.ts): listen once it has arrived, before it connects.
    this.sockets.withSocket((s) => {
      this.messages.listen(s);
      this.typing.listen(s);
      presence.listen(s);
      this.read.listen(s);
      this.membership.listen(s);
      // Settings changed in another tab or device.
      s.on('settings:update', (e) => {
        if (!e || typeof e !== 'object') return;
        const settings = normalizeSettings(e);
        qc.setQueryData(qk.settings, settings);
        presence.setChosen(settings.status);
      });
    });
  }
}
