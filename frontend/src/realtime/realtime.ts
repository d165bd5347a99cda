// Everything live for one logged-in session, as small stores behind this coordinator (Element's SDKContext is the
// model): the connection (connection.ts), message events (messages.ts), history (history.ts), sending
// (sending.ts), typing (typing.ts), presence (presence.ts), read state (readState.ts), removal notices, and the
// E2EE hooks (e2ee.ts). What the socket's events do, the catch-up and the membership events (membership.ts) are
// live.ts, a chunk of its own fetched beside the socket client: the coordinator makes the socket wait for it, so
// it is here before anything arrives. The coordinator makes each store with what it needs and does what a
// (re)connect needs of several. Framework-free; RealtimeProvider exposes it.
import type { QueryClient } from '@tanstack/react-query';
import type { AuthManager } from '../api/auth';
import type { Api } from '../api/endpoints';
import { qk } from '../api/queryKeys';
import { defaultSocketFactory, type SocketFactory } from '../api/socket';
import type { Id } from '../api/types';
import { OriginalsCache } from '../chat/replies';
import { Connection } from './connection';
import { E2EEHooks } from './e2ee';
import { history, type History } from './history';
import type { Live } from './live';
import type { RemovalNotice } from './membership';
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
  /** The event handlers (live.ts), passed in by tests so that they stay synchronous; else loaded with the socket. */
  live?: Live;
}

type NoticeListener = (n: RemovalNotice) => void;

export class Realtime {
  readonly chat = new ChatStore();
  readonly sockets: Connection;
  readonly typing: TypingStore;
  readonly presence: PresenceTracker;
  readonly read: ReadState;
  readonly messages: MessageEvents;
  readonly history: History;
  readonly sender: Sender;
  /** Being removed (kicked, banned, a server or channel deleted), as live.ts hears of it. */
  readonly membership = {
    listeners: new Set<NoticeListener>(),
    onRemoved(l: NoticeListener): () => void {
      this.listeners.add(l);
      return () => this.listeners.delete(l);
    },
    notice(n: RemovalNotice) {
      for (const l of this.listeners) l(n);
    },
  };
  readonly e2ee: E2EEHooks;
  /** Replies' originals that are not loaded (fetched one by one, see chat/replies.ts). */
  readonly originals: OriginalsCache;
  readonly meId: Id;
  readonly qc: QueryClient;
  private readonly api: Api;
  private live?: Live;
  private loadingLive?: Promise<Live>;

  constructor(deps: RealtimeDeps) {
    const { api, queryClient: qc, meId, auth } = deps;
    const chat = this.chat;
    this.api = api;
    this.qc = qc;
    this.meId = meId;
    // The socket waits for the event handlers: both chunks download side by side, and a failed download of either
    // is retried like the socket client's (api/socket.ts).
    const factory = deps.socketFactory ?? defaultSocketFactory;
    const conn = (this.sockets = new Connection(
      auth,
      deps.live ? factory : (o) => Promise.all([factory(o), this.loadLive()]).then(([s]) => s),
    ));
    const originals = (this.originals = new OriginalsCache((channelId, messageId) => api.message(channelId, messageId)));
    this.typing = new TypingStore(conn);
    this.presence = new PresenceTracker(conn, api, meId);
    this.read = new ReadState(conn, qc, chat);
    this.messages = new MessageEvents({ qc, chat, originals });
    this.history = history({ conn, api, chat, catchUp: (only) => this.catchUp(only), load: () => this.loadLive() });
    const e2ee = (this.e2ee = new E2EEHooks(qc, auth, meId));
    this.sender = new Sender({ conn, api, qc, chat, e2ee, originals, meId }, () => this.loadLive());
    if (deps.live) this.arrived(deps.live);
    this.wire();
  }

  /** live.ts: now when passed in or here, else once downloaded (a failed download is tried again on the next call). */
  private loadLive(): Promise<Live> {
    if (this.live) return Promise.resolve(this.live);
    return (this.loadingLive ??= import('./live').then(
      (live) => {
        this.arrived(live);
        return live;
      },
      (e: unknown) => {
        this.loadingLive = undefined;
        throw e;
      },
    ));
  }

  /** live.ts is here (before the socket connects): the sender's outbox and operations come with it. */
  private arrived(live: Live) {
    this.live = live;
    this.sender.arrived(live);
  }

  start() {
    // The block list decides which incoming messages count (messages.ts): have it before the first one arrives.
    void this.qc.prefetchQuery({ queryKey: qk.blocked, queryFn: () => this.api.blocked(), staleTime: 5 * 60_000 });
    this.sockets.start();
    this.presence.startIdleTracking();
  }

  stop() {
    this.sender.outbox?.stop();
    this.sockets.stop();
    this.presence.stop();
    this.read.stop();
    this.typing.stop();
  }

  /** Catch-up after a (re)connect (live.ts, here whenever connected). */
  private catchUp(only?: Id[]): Promise<void> {
    return this.live ? this.live.catchUp(this, only) : Promise.resolve();
  }

  private wire() {
    const { qc, presence, sender } = this;
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
      sender.outbox?.pause();
      void this.catchUp()
        .catch(() => undefined)
        .finally(() => sender.outbox?.resume());
    });
    // The socket client is a chunk of its own (api/socket.ts): listen once it (and live.ts) has arrived, before it
    // connects.
    this.sockets.withSocket((s) => this.live!.listen(this, s));
  }
}
