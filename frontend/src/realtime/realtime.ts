// Everything live for one logged-in session: the socket, message lists, sends, catch-up, receipts, typing,
// presence, and cache updates for server/channel/member events. Framework-free; RealtimeProvider exposes it.
import type { QueryClient } from '@tanstack/react-query';
import type { AuthManager } from '../api/auth';
import type { Api } from '../api/endpoints';
import { errorMessage } from '../api/http';
import { qk } from '../api/queryKeys';
import { SocketManager, type ParleySocket, type SocketFactory } from '../api/socket';
import type {
  ChosenStatus,
  Ack,
  Attachment,
  ChannelUpdateEvent,
  ClientToServerEvents,
  DMList,
  Id,
  MembersPage,
  MemberUpdateEvent,
  Message,
  NotificationSettings,
  Reaction,
  PinUpdateEvent,
  Server,
  ServersList,
  ServerUpdateEvent,
  SyncResult,
  UnreadEvent,
  UsersPage,
} from '../api/types';
import { applySync, planSync } from '../chat/catchup';
import { compareIds } from '../chat/ids';
import {
  addPending,
  applyDelete,
  applyAroundPage,
  applyNewerPage,
  applyNewestPage,
  applyOlderPage,
  applyUpdate,
  discardPending,
  findPending,
  markFailed,
  markSending,
  newestId,
  oldestId,
  receiveMessage,
  updateReactions,
} from '../chat/messageStore';
import { applyReactionEvent, setReaction, toggleMine } from '../chat/reactions';
import { applyReceipt } from '../chat/receipts';
import { decideIncoming, DEFAULT_SETTINGS, normalizeSettings, type IncomingDecision, type Place } from '../chat/notify';
import { findLoaded, OriginalsCache } from '../chat/replies';
import { applyPinUpdate, pinsRemove, pinsUpdateMessage, type PinsData } from '../chat/pins';
import { PAGE_SIZE } from '../api/endpoints';
import { Outbox } from '../chat/outbox';
import { readStatusHint, wireStatus, writeStatusHint } from '../chat/status';
import { newNonce, SEND_TIMEOUT_MS } from '../chat/send';
import {
  applyUnread,
  clearUnread,
  findChannel,
  membersRemove,
  membersUpsert,
  noteLastMessage,
  patchAnyChannel,
  removeChannel,
  removeServer,
  seedUsers,
  upsertChannel,
  upsertServer,
} from '../app/cache';
import { ChatStore, PresenceStore } from './stores';
import type { InfiniteData } from '@tanstack/react-query';

export const IDLE_AFTER_MS = 5 * 60_000;
const READ_DEBOUNCE_MS = 400;

export interface RemovalNotice {
  kind: 'server' | 'channel';
  id: Id;
  serverId?: Id;
  message: string;
}

type NoticeListener = (n: RemovalNotice) => void;

/** Someone else's message, as it arrived live (once per message), with what it should do. */
export interface IncomingMessage {
  message: Message;
  place: Place | undefined;
  decision: IncomingDecision;
}
type IncomingListener = (e: IncomingMessage) => void;

const tabHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

export interface RealtimeDeps {
  auth: AuthManager;
  api: Api;
  queryClient: QueryClient;
  meId: Id;
  socketFactory?: SocketFactory;
}

export class Realtime {
  readonly chat = new ChatStore();
  readonly presence = new PresenceStore();
  readonly sockets: SocketManager;
  private readonly api: Api;
  private readonly qc: QueryClient;
  private readonly auth: AuthManager;
  readonly meId: Id;

  private loadingNewest = new Map<Id, Promise<void>>();
  private loadingOlder = new Map<Id, Promise<void>>();
  private loadingNewer = new Map<Id, Promise<void>>();
  private loadErrors = new Map<Id, string>();
  private lastReadSent = new Map<Id, Id>();
  private readTimers = new Map<Id, ReturnType<typeof setTimeout>>();
  /** The newest message of a channel at the last markRead, i.e. the newest the user has seen there. */
  private readSeen = new Map<Id, Id>();
  private noticeListeners = new Set<NoticeListener>();
  private incomingListeners = new Set<IncomingListener>();
  /** Ids of recent messages already handed to incoming listeners (an event and a catch-up may bring one twice). */
  private announced = new Set<Id>();
  private presenceWanted = new Set<Id>();
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  private idle = false;
  /** The presence the user chose (settings.status); the device's last choice until the settings arrive. */
  private chosen: ChosenStatus = 'online';
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private cleanup: (() => void)[] = [];
  /** Own messages waiting to be stored, sent in order when connected (see chat/outbox.ts). */
  readonly outbox: Outbox;
  /** Replies' originals that are not loaded (fetched one by one, see chat/replies.ts). */
  readonly originals: OriginalsCache;
  activeChannelId: Id | null = null;

  constructor(deps: RealtimeDeps) {
    this.api = deps.api;
    this.qc = deps.queryClient;
    this.meId = deps.meId;
    this.chosen = readStatusHint(deps.meId);
    this.auth = deps.auth;
    this.sockets = new SocketManager(deps.auth, deps.socketFactory);
    this.originals = new OriginalsCache((channelId, messageId) => this.api.message(channelId, messageId));
    this.outbox = new Outbox({
      emit: (p) => this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:send', p)),
      // An encrypted DM's message (the server's flag) is sealed by a lazily imported module (e2ee/seal.ts).
      encrypted: (channelId) => this.isEncrypted(channelId),
      seal: async (p, refused) => (await import('../e2ee/seal')).seal(p, this.sealer, refused),
      onEncryptionRequired: (channelId) => this.markEncrypted(channelId),
      connected: () => this.sockets.connected,
      content: (channelId, nonce) => {
        const p = findPending(this.chat.getChannel(channelId), nonce);
        return p && p.state === 'pending' ? p.content : undefined;
      },
      replyTo: (channelId, nonce) => findPending(this.chat.getChannel(channelId), nonce)?.replyTo,
      attachments: (channelId, nonce) => findPending(this.chat.getChannel(channelId), nonce)?.attachments?.map((a) => a.id),
      onAttempt: (channelId, nonce) => this.chat.update(channelId, (st) => markSending(st, nonce)),
      onSent: (channelId, message) => {
        this.chat.update(channelId, (st) => receiveMessage(st, message));
        noteLastMessage(this.qc, message);
      },
      onFailed: (channelId, nonce, error) => this.chat.update(channelId, (st) => markFailed(st, nonce, error)),
    });
    this.wire();
  }

  /** A fire-and-forget event, now or once the socket client has loaded (socket.io buffers it until connected). */
  private emit<E extends 'typing:start' | 'typing:stop' | 'presence:set' | 'message:delivered'>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ) {
    this.sockets.withSocket((s) => (s.emit as (e: E, p: typeof payload) => void)(event, payload));
  }

  /**
   * A request with an ack: sent at once when the socket client has loaded, else once it has, failing like an
   * unanswered request if it has not within the send timeout.
   */
  private withAck<T>(f: (s: ParleySocket) => Promise<T>): Promise<T> {
    const s = this.sockets.socket;
    return s ? f(s) : this.sockets.ready(SEND_TIMEOUT_MS).then(f);
  }

  start() {
    // The block list decides which incoming messages count (onMessage): have it before the first one arrives.
    void this.qc.prefetchQuery({ queryKey: qk.blocked, queryFn: () => this.api.blocked(), staleTime: 5 * 60_000 });
    this.sockets.start();
    this.startIdleTracking();
  }

  stop() {
    this.outbox.stop();
    this.sockets.stop();
    for (const f of this.cleanup) f();
    this.cleanup = [];
    for (const t of this.readTimers.values()) clearTimeout(t);
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.chat.dispose();
  }

  onRemoved(l: NoticeListener): () => void {
    this.noticeListeners.add(l);
    return () => this.noticeListeners.delete(l);
  }

  /** Someone else's new messages, live (not history or catch-up), for notifications. */
  onIncoming(l: IncomingListener): () => void {
    this.incomingListeners.add(l);
    return () => this.incomingListeners.delete(l);
  }

  /** The notification settings: the cached answer of GET /api/me/settings, else the defaults. */
  settings(): NotificationSettings {
    const s = this.qc.getQueryData<NotificationSettings>(qk.settings);
    return s ? normalizeSettings(s) : DEFAULT_SETTINGS;
  }

  /** Where a channel is: a DM, or a text channel of a server; undefined when not cached. */
  place(channelId: Id): Place | undefined {
    const c = findChannel(this.qc, channelId);
    if (!c) return undefined;
    return c.type === 'dm' ? { type: 'dm' } : { type: 'text', serverId: c.serverId };
  }

  private notice(n: RemovalNotice) {
    for (const l of this.noticeListeners) l(n);
  }

  // --- socket events --------------------------------------------------------------------------------------

  private wire() {
    this.sockets.onConnect((first) => {
      // The handshake carried the device's last choice; say the current one (and idleness) in case it differs.
      const said = wireStatus(this.chosen, this.idle);
      if (said !== 'online') this.emit('presence:set', { status: said });
      if (!first) {
        // Lists (unread counts, new servers/DMs) may have moved while we were away.
        void this.qc.invalidateQueries({ queryKey: qk.servers });
        void this.qc.invalidateQueries({ queryKey: qk.dms });
        void this.qc.invalidateQueries({ queryKey: qk.channelsAll });
        void this.qc.invalidateQueries({ queryKey: qk.settings });
        void this.qc.invalidateQueries({ queryKey: qk.pinsAll }); // pin:update events missed while away
        this.refreshPresence();
      }
      // Queued sends wait for catch-up, so a message stored before the connection dropped (its ack lost) is
      // recognised by its nonce and not sent again, however long the page was offline.
      this.outbox.pause();
      void this.catchUp()
        .catch(() => undefined)
        .finally(() => this.outbox.resume());
    });
    // The socket client is a chunk of its own (api/socket.ts): listen once it has arrived, before it connects.
    this.sockets.withSocket((s) => this.listen(s));
  }

  private listen(s: ParleySocket) {
    const onMessage = (m: Message) => this.onMessage(m);
    s.on('message:new', onMessage);
    s.on('message:sent', onMessage);
    s.on('message:updated', (m) => {
      this.chat.update(m.channelId, (st) => applyUpdate(st, m));
      this.originals.update(m);
      this.qc.setQueryData<PinsData>(qk.pins(m.channelId), (d) => pinsUpdateMessage(d, m));
    });
    s.on('message:deleted', (e) => {
      this.chat.update(e.channelId, (st) => applyDelete(st, e.messageId));
      this.originals.markDeleted(e.channelId, e.messageId);
      this.qc.setQueryData<PinsData>(qk.pins(e.channelId), (d) => pinsRemove(d, e.messageId));
    });
    s.on('pin:update', (e) => this.onPinUpdate(e));
    s.on('typing:user', (e) => {
      if (e.userId !== this.meId) this.chat.setTyping(e.channelId, e.userId, e.typing);
    });
    s.on('presence:update', (p) => this.presence.set([p]));
    s.on('presence:batch', (b) => this.presence.set(b.updates));
    s.on('receipt:update', (e) => {
      if (e.userId === this.meId) {
        // My read position moved (this tab's receipt, another tab or device).
        this.ownReadMoved({ channelId: e.channelId, unreadCount: 0, mentionCount: 0, lastReadId: e.messageId });
        return;
      }
      this.chat.updateReceipts(e.channelId, (r) => applyReceipt(r, 'read', e));
    });
    s.on('receipt:delivered', (e) => this.chat.updateReceipts(e.channelId, (r) => applyReceipt(r, 'delivered', e)));
    s.on('unread:update', (e) => this.ownReadMoved(e));
    s.on('server:update', (e) => this.onServerUpdate(e));
    s.on('channel:update', (e) => this.onChannelUpdate(e));
    s.on('member:update', (e) => this.onMemberUpdate(e));
    // Settings changed in another tab or device.
    s.on('settings:update', (e) => {
      if (!e || typeof e !== 'object') return;
      const settings = normalizeSettings(e);
      this.qc.setQueryData(qk.settings, settings);
      this.setChosenStatus(settings.status);
    });
    s.on('reaction:update', (e) => {
      if (!e?.messageId || !e.channelId) return;
      this.chat.update(e.channelId, (st) => updateReactions(st, e.messageId, (r) => applyReactionEvent(r, e, this.meId)));
    });
  }

  /**
   * Applies my new read position to the channel's badge. Receipts are debounced, so the position can be older
   * than messages that arrived since: those stay unread (counted from the loaded history).
   */
  private ownReadMoved(e: UnreadEvent) {
    const st = this.chat.getChannel(e.channelId);
    const newer = e.lastReadId && st ? st.messages.filter((m) => m.senderId !== this.meId && compareIds(m.id, e.lastReadId!) > 0).length : undefined;
    const found = applyUnread(this.qc, e, this.activeChannelId, newer);
    if (!found) void this.qc.invalidateQueries({ queryKey: qk.dms });
    if (e.channelId === this.activeChannelId) this.markRead(e.channelId);
  }

  private isBlocked(userId: Id): boolean {
    return !!this.qc.getQueryData<UsersPage>(qk.blocked)?.users?.some((u) => u.id === userId);
  }

  /** Whether the server says the channel is an end-to-end encrypted DM (as cached; the server refuses plaintext anyway). */
  private isEncrypted(channelId: Id): boolean {
    const c = findChannel(this.qc, channelId);
    return c?.type === 'dm' && !!c.encrypted;
  }

  /** Marks a cached DM encrypted (the server answered encryption_required, or the UI turned it on). */
  markEncrypted(channelId: Id) {
    patchAnyChannel(this.qc, channelId, (c) => (c.type === 'dm' && !c.encrypted ? { ...c, encrypted: true } : c));
  }

  private get sealer() {
    return { userId: this.meId, token: () => this.auth.getAccessToken() };
  }

  private isDM(channelId: Id): boolean {
    const c = findChannel(this.qc, channelId);
    return c ? c.type === 'dm' : true; // unknown channel: most likely a DM someone just opened with us
  }

  private onMessage(m: Message) {
    if (!m?.id || !m.channelId) return;
    this.chat.update(m.channelId, (st) => receiveMessage(st, m));
    if (m.senderId !== this.meId) {
      this.chat.setTyping(m.channelId, m.senderId, false);
      if (this.isDM(m.channelId)) this.emit('message:delivered', { channelId: m.channelId, messageId: m.id });
    }
    // Viewing: the channel is open in a visible tab (it is marked read). Otherwise the message counts as unread,
    // and as a mention when it mentions me (@everyone and @here only unless suppressed for its server).
    const hidden = tabHidden();
    const viewing = m.channelId === this.activeChannelId && !hidden;
    const place = this.place(m.channelId);
    // A message from someone I block counts for nothing (the server leaves it out of unread counts too).
    const blocked = this.isBlocked(m.senderId);
    const decision = decideIncoming({ message: m, meId: this.meId, place, settings: this.settings(), viewing, hidden, blocked });
    const fromOther = m.senderId !== this.meId;
    const known = noteLastMessage(this.qc, m, fromOther && !blocked && !viewing, decision.mention && !viewing);
    if (!known) void this.qc.invalidateQueries({ queryKey: qk.dms });
    if (m.channelId === this.activeChannelId) this.markRead(m.channelId);
    if (fromOther && !blocked && !this.announced.has(m.id)) {
      this.announced.add(m.id);
      if (this.announced.size > 500) this.announced.delete(this.announced.values().next().value!);
      for (const l of this.incomingListeners) l({ message: m, place, decision });
    }
  }

  /** `pin:update`: the channel's pinned list, if cached, follows (the pinned message from what we hold, else refetched). */
  onPinUpdate(e: PinUpdateEvent) {
    if (!e?.channelId || !e.messageId) return;
    const cached = this.originals.get(e.channelId, e.messageId);
    const message = findLoaded(this.chat.getChannel(e.channelId), e.messageId) ?? (cached?.status === 'loaded' ? cached.message : undefined);
    const applied = applyPinUpdate(this.qc.getQueryData<PinsData>(qk.pins(e.channelId)), e, message);
    if (!applied) return;
    this.qc.setQueryData<PinsData>(qk.pins(e.channelId), applied.data);
    if (applied.refetch) void this.qc.invalidateQueries({ queryKey: qk.pins(e.channelId) });
  }

  async pin(channelId: Id, messageId: Id, pinned: boolean): Promise<void> {
    if (pinned) await this.api.pin(channelId, messageId);
    else await this.api.unpin(channelId, messageId);
    // The event follows; apply at once for this tab.
    this.onPinUpdate({ channelId, messageId, userId: this.meId, pinned });
  }

  private serverName(id: Id): string {
    return (
      this.qc.getQueryData<Server>(qk.server(id))?.name ??
      this.qc.getQueryData<ServersList>(qk.servers)?.servers.find((s) => s.id === id)?.name ??
      'the server'
    );
  }

  private onServerUpdate({ server, action }: ServerUpdateEvent) {
    if (!server?.id) return;
    switch (action) {
      case 'created':
      case 'joined':
      case 'updated':
        upsertServer(this.qc, server);
        if (action !== 'updated') void this.qc.invalidateQueries({ queryKey: qk.servers });
        break;
      case 'deleted':
      case 'left':
      case 'kicked':
      case 'banned': {
        // A kicked member is told only here: the server's room, which carries member:update, no longer has them.
        const name = server.name || this.serverName(server.id);
        removeServer(this.qc, server.id);
        const message = {
          deleted: `"${name}" was deleted.`,
          left: `You left "${name}".`,
          kicked: `You were removed from "${name}".`,
          banned: `You were banned from "${name}".`,
        }[action];
        this.notice({ kind: 'server', id: server.id, message });
        break;
      }
    }
  }

  private onChannelUpdate({ channel, action }: ChannelUpdateEvent) {
    if (!channel?.id) return;
    if (action === 'closed' || action === 'left') {
      // I closed the DM (another tab) or left the group: off my list, without a notice (it was my doing).
      removeChannel(this.qc, channel);
      if (action === 'left') this.chat.drop(channel.id);
      return;
    }
    if (action === 'updated' && channel.type === 'dm') {
      // Someone left a group DM, or turned end-to-end encryption on: only participants and the flag change (the
      // event carries no traffic fields). The flag never goes off.
      const participants = channel.participants ?? [];
      patchAnyChannel(this.qc, channel.id, (c) =>
        c.type === 'dm' ? { ...c, participants: participants.length ? participants : c.participants, encrypted: !!(c.encrypted || channel.encrypted) } : c,
      );
      seedUsers(this.qc, participants);
      return;
    }
    if (action === 'deleted') {
      removeChannel(this.qc, channel);
      this.chat.drop(channel.id);
      this.notice({
        kind: 'channel',
        id: channel.id,
        serverId: channel.type === 'text' ? channel.serverId : undefined,
        message: channel.type === 'text' ? `#${channel.name} was deleted.` : 'This conversation was deleted.',
      });
      return;
    }
    upsertChannel(this.qc, channel);
    if (channel.type === 'dm') seedUsers(this.qc, channel.participants ?? []);
    if (action === 'created' && channel.type === 'dm' && !this.qc.getQueryData<DMList>(qk.dms)) {
      void this.qc.invalidateQueries({ queryKey: qk.dms });
    }
  }

  private onMemberUpdate({ serverId, member, action }: MemberUpdateEvent) {
    if (!member?.user?.id) return;
    const mine = member.user.id === this.meId;
    const gone = action === 'left' || action === 'kicked' || action === 'banned';
    if (mine && gone) {
      const name = this.serverName(serverId);
      removeServer(this.qc, serverId);
      this.notice({
        kind: 'server',
        id: serverId,
        message:
          action === 'kicked' ? `You were removed from "${name}".` : action === 'banned' ? `You were banned from "${name}".` : `You left "${name}".`,
      });
      return;
    }
    if (mine && action === 'role') {
      const patch = (s: Server | undefined) => (s ? { ...s, role: member.role } : s);
      this.qc.setQueryData<Server>(qk.server(serverId), patch);
      this.qc.setQueryData<ServersList>(qk.servers, (d) =>
        d ? { ...d, servers: d.servers.map((s) => (s.id === serverId ? { ...s, role: member.role } : s)) } : d,
      );
    }
    seedUsers(this.qc, [member.user]);
    type MD = InfiniteData<MembersPage, Id | undefined>;
    const delta = action === 'joined' ? 1 : gone ? -1 : 0;
    if (action === 'banned') void this.qc.invalidateQueries({ queryKey: qk.bans(serverId) });
    if (gone) {
      this.qc.setQueryData<MD>(qk.members(serverId), (d) => membersRemove(d, member.user.id));
    } else {
      this.qc.setQueryData<MD>(qk.members(serverId), (d) => membersUpsert(d, member));
      this.wantPresence([member.user.id]);
    }
    if (delta) {
      const bump = (s: Server | undefined) => (s ? { ...s, memberCount: Math.max(0, s.memberCount + delta) } : s);
      this.qc.setQueryData<Server>(qk.server(serverId), bump);
      this.qc.setQueryData<ServersList>(qk.servers, (d) =>
        d ? { ...d, servers: d.servers.map((s) => (s.id === serverId ? bump(s)! : s)) } : d,
      );
    }
  }

  // --- history --------------------------------------------------------------------------------------------

  loadError(channelId: Id): string | undefined {
    return this.loadErrors.get(channelId);
  }

  /** Loads the newest page unless the channel is already live. */
  ensureLoaded(channelId: Id): Promise<void> {
    const st = this.chat.getChannel(channelId);
    // Coming back to a channel left in the past (after a jump): start from the present again.
    if (st?.loaded && !st.hasMoreNewer) return Promise.resolve();
    return this.loadNewest(channelId);
  }

  /** (Re)loads the newest page; replaces history when it does not connect to what we hold. */
  loadNewest(channelId: Id): Promise<void> {
    const running = this.loadingNewest.get(channelId);
    if (running) return running;
    const epoch = this.sockets.epoch;
    const p = (async () => {
      try {
        const page = await this.api.messages(channelId);
        this.loadErrors.delete(channelId);
        this.chat.update(channelId, (st) => applyNewestPage(st, page.messages ?? [], !!page.hasMore));
        // A connect happened while the page was in flight: its catch-up skipped this channel, so sync it now.
        if (epoch !== this.sockets.epoch && this.sockets.connected) void this.catchUp([channelId]);
      } catch (e) {
        this.loadErrors.set(channelId, errorMessage(e));
        this.chat.update(channelId, (st) => ({ ...st }));
        throw e;
      } finally {
        this.loadingNewest.delete(channelId);
      }
    })();
    this.loadingNewest.set(channelId, p);
    return p;
  }

  isLoadingOlder(channelId: Id): boolean {
    return this.loadingOlder.has(channelId);
  }

  loadOlder(channelId: Id): Promise<void> {
    const st = this.chat.getChannel(channelId);
    const before = oldestId(st);
    if (!st?.loaded || !st.hasMoreOlder || !before) return Promise.resolve();
    const running = this.loadingOlder.get(channelId);
    if (running) return running;
    const p = (async () => {
      try {
        const page = await this.api.messages(channelId, { before });
        this.chat.update(channelId, (s) => applyOlderPage(s, page.messages ?? [], !!page.hasMore));
      } finally {
        this.loadingOlder.delete(channelId);
      }
    })();
    this.loadingOlder.set(channelId, p);
    return p;
  }

  isLoadingNewer(channelId: Id): boolean {
    return this.loadingNewer.has(channelId);
  }

  /**
   * Makes `messageId` part of the loaded list: nothing to do when it is loaded; else the page around it is loaded
   * (merged when it connects to what we hold, else as a window into the past). Resolves whether it is there.
   */
  async jumpTo(channelId: Id, messageId: Id): Promise<boolean> {
    if (findLoaded(this.chat.getChannel(channelId), messageId)) return true;
    const page = await this.api.messages(channelId, { around: messageId, limit: PAGE_SIZE });
    const wasWindow = !!this.chat.getChannel(channelId)?.hasMoreNewer;
    this.chat.update(channelId, (st) => applyAroundPage(st, messageId, page.messages ?? [], !!page.hasMore, PAGE_SIZE));
    // From a window back to the present: live messages were set aside meanwhile, so catch up.
    if (wasWindow && !this.chat.getChannel(channelId)?.hasMoreNewer && this.sockets.connected) void this.catchUp([channelId]);
    return !!findLoaded(this.chat.getChannel(channelId), messageId);
  }

  /** A window into the past pages forward (`?after=`); once it reaches the present, catch up from its newest id. */
  loadNewer(channelId: Id): Promise<void> {
    const st = this.chat.getChannel(channelId);
    const after = newestId(st);
    if (!st?.hasMoreNewer || !after) return Promise.resolve();
    const running = this.loadingNewer.get(channelId);
    if (running) return running;
    const p = (async () => {
      try {
        const page = await this.api.messages(channelId, { after });
        this.chat.update(channelId, (s) => (s.hasMoreNewer ? applyNewerPage(s, page.messages ?? [], !!page.hasMore) : s));
        if (!page.hasMore && this.sockets.connected) await this.catchUp([channelId]);
      } finally {
        this.loadingNewer.delete(channelId);
      }
    })();
    this.loadingNewer.set(channelId, p);
    return p;
  }

  /** Catch-up after (re)connect: `messages:sync` from the newest id we hold per loaded channel. */
  async catchUp(only?: Id[]): Promise<void> {
    const plan = planSync(this.chat.getAll(), only);
    for (const id of plan.refetch) void this.loadNewest(id).catch(() => undefined);
    if (!plan.payload) return;
    let res: Ack<SyncResult>;
    try {
      const payload = plan.payload;
      res = await this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('messages:sync', payload));
    } catch {
      // No answer: fall back to refetching the newest page of each channel.
      for (const id of Object.keys(plan.payload.channels)) void this.loadNewest(id).catch(() => undefined);
      return;
    }
    if (!res || !res.ok) {
      for (const id of Object.keys(plan.payload.channels)) void this.loadNewest(id).catch(() => undefined);
      return;
    }
    const applied = applySync(this.chat.getAll(), res);
    this.chat.setMany(applied.updated);
    for (const id of applied.refetch) void this.loadNewest(id).catch(() => undefined);
    for (const [channelId, msgs] of applied.added) {
      const fromOthers = msgs.filter((m) => m.senderId !== this.meId);
      const last = fromOthers[fromOthers.length - 1];
      if (last && this.isDM(channelId)) this.emit('message:delivered', { channelId, messageId: last.id });
      const newest = msgs[msgs.length - 1];
      if (newest) noteLastMessage(this.qc, newest);
      if (channelId === this.activeChannelId) this.markRead(channelId);
    }
  }

  // --- sending --------------------------------------------------------------------------------------------

  send(channelId: Id, content: string, replyTo?: Id | null, attachments?: Attachment[]): string | null {
    let text = content.replace(/\s+$/, '');
    const files = attachments?.length ? attachments : undefined;
    if (!text.trim() && !files) return null;
    if (!text.trim()) text = '';
    const nonce = newNonce();
    this.chat.update(channelId, (st) =>
      addPending(st, {
        nonce,
        channelId,
        senderId: this.meId,
        content: text,
        createdAt: new Date().toISOString(),
        replyTo: replyTo || null,
        attachments: files,
      }),
    );
    this.outbox.enqueue(channelId, nonce);
    return nonce;
  }

  /** Retry a failed send with the SAME nonce: it joins the end of the queue. */
  retry(channelId: Id, nonce: string) {
    const p = findPending(this.chat.getChannel(channelId), nonce);
    if (!p || p.state !== 'failed') return;
    this.chat.update(channelId, (st) => markSending(st, nonce));
    this.outbox.enqueue(channelId, nonce);
  }

  discard(channelId: Id, nonce: string) {
    this.chat.update(channelId, (st) => discardPending(st, nonce));
  }

  async edit(channelId: Id, messageId: Id, content: string): Promise<void> {
    // In an encrypted DM the new text is sealed (new ciphertext); a stale flag is corrected by the server's answer.
    const send = async (sealed: boolean) => {
      const payload = sealed ? { channelId, messageId, content: await (await import('../e2ee/seal')).sealEdit(channelId, content, this.sealer, messageId), encrypted: true } : { channelId, messageId, content };
      return this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:edit', payload));
    };
    let res = await send(this.isEncrypted(channelId));
    if (!res.ok && res.error?.code === 'encryption_required') {
      this.markEncrypted(channelId);
      res = await send(true);
    }
    if (!res.ok) throw new Error(res.error?.message || 'Could not edit the message.');
    this.chat.update(channelId, (st) => applyUpdate(st, res.message));
  }

  async remove(channelId: Id, messageId: Id): Promise<void> {
    const res = await this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:delete', { channelId, messageId }));
    if (!res.ok) throw new Error(res.error?.message || 'Could not delete the message.');
    this.chat.update(channelId, (st) => applyDelete(st, messageId));
    this.originals.markDeleted(channelId, messageId);
    this.qc.setQueryData<PinsData>(qk.pins(channelId), (d) => pinsRemove(d, messageId));
  }

  /**
   * Adds or removes my reaction: shown at once, then set to what the server answers (its count is the truth),
   * or undone if it refused (the error is thrown).
   */
  async react(channelId: Id, messageId: Id, emoji: string, add: boolean): Promise<void> {
    this.chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, this.meId, add)));
    let res: Ack<{ reaction: Reaction }> | undefined;
    try {
      res = await this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck(add ? 'reaction:add' : 'reaction:remove', { channelId, messageId, emoji }));
    } catch {
      res = undefined;
    }
    if (res?.ok) {
      const r = res.reaction;
      this.chat.update(channelId, (st) => updateReactions(st, messageId, (list) => setReaction(list, { ...r, emoji })));
      return;
    }
    this.chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, this.meId, !add)));
    throw new Error(res && !res.ok ? res.error?.message || 'Could not react.' : 'No answer from the server; try again.');
  }

  typing(channelId: Id, event: 'typing:start' | 'typing:stop') {
    if (this.sockets.connected) this.emit(event, { channelId });
  }

  // --- read state -----------------------------------------------------------------------------------------

  setActiveChannel(channelId: Id | null) {
    this.activeChannelId = channelId;
    if (channelId) clearUnread(this.qc, channelId);
  }

  /** Marks the newest loaded message read (debounced). Call only while the channel is visible and focused. */
  /** Marks a channel read up to a message at once (closing a DM with unread messages, which would reopen it). */
  async markReadUpTo(channelId: Id, messageId: Id): Promise<void> {
    clearUnread(this.qc, channelId);
    this.lastReadSent.set(channelId, messageId);
    await this.withAck((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('receipt:read', { channelId, messageId }));
  }

  markRead(channelId: Id) {
    if (channelId !== this.activeChannelId) return;
    // A window into the past is not what is new: nothing to mark read until it reaches the present.
    if (this.chat.getChannel(channelId)?.hasMoreNewer) return;
    if (typeof document !== 'undefined' && (document.visibilityState === 'hidden' || !document.hasFocus())) return;
    clearUnread(this.qc, channelId);
    // Remember what is seen now: the debounced receipt must not cover messages that arrive after the user left
    // the channel (they would be marked read, and their badge cleared, unseen).
    const seen = newestId(this.chat.getChannel(channelId));
    if (seen) this.readSeen.set(channelId, seen);
    if (this.readTimers.has(channelId)) return;
    this.readTimers.set(
      channelId,
      setTimeout(() => {
        this.readTimers.delete(channelId);
        const newest = this.readSeen.get(channelId);
        if (!newest) return;
        const sent = this.lastReadSent.get(channelId);
        if (sent && compareIds(sent, newest) >= 0) return;
        const s = this.sockets.socket;
        if (!s?.connected) return;
        this.lastReadSent.set(channelId, newest);
        s.timeout(SEND_TIMEOUT_MS)
          .emitWithAck('receipt:read', { channelId, messageId: newest })
          .then((ack) => {
            if (!ack?.ok && this.lastReadSent.get(channelId) === newest) this.lastReadSent.delete(channelId);
          })
          .catch(() => {
            if (this.lastReadSent.get(channelId) === newest) this.lastReadSent.delete(channelId);
          });
      }, READ_DEBOUNCE_MS),
    );
  }

  // --- presence -------------------------------------------------------------------------------------------

  /** Asks for the presence of users we have not seen yet (batched). */
  wantPresence(userIds: Id[]) {
    let added = false;
    for (const id of userIds) {
      if (!id || this.presenceWanted.has(id)) continue;
      this.presenceWanted.add(id);
      added = true;
    }
    if (added && !this.presenceTimer) {
      this.presenceTimer = setTimeout(() => {
        this.presenceTimer = null;
        const ids = [...this.presenceWanted].filter((id) => !this.presence.has(id));
        void this.fetchPresence(ids);
      }, 50);
    }
  }

  private refreshPresence() {
    void this.fetchPresence([...this.presenceWanted]);
  }

  private async fetchPresence(ids: Id[]) {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      try {
        const res = await this.api.presence(chunk);
        this.presence.set(res.presence ?? []);
      } catch {
        /* presence is decoration: try again on the next reconnect */
      }
    }
  }

  private startIdleTracking() {
    if (typeof window === 'undefined') return;
    let lastActivity = Date.now();
    const arm = () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        if (Date.now() - lastActivity >= IDLE_AFTER_MS - 1000 && !this.idle) {
          this.idle = true;
          if (this.chosen === 'online') this.emit('presence:set', { status: 'idle' });
          this.presence.touch();
        }
      }, IDLE_AFTER_MS);
    };
    let throttle = 0;
    const activity = () => {
      const now = Date.now();
      lastActivity = now;
      if (this.idle) {
        this.idle = false;
        if (this.chosen === 'online') this.emit('presence:set', { status: 'online' });
        this.presence.touch();
      }
      if (now - throttle > 1000) {
        throttle = now;
        arm();
      }
    };
    const events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;
    for (const ev of events) window.addEventListener(ev, activity, { passive: true });
    arm();
    this.cleanup.push(() => {
      for (const ev of events) window.removeEventListener(ev, activity);
    });
  }

  isIdle(): boolean {
    return this.idle;
  }

  chosenStatus(): ChosenStatus {
    return this.chosen;
  }

  /** The user's chosen presence (from the settings, or just picked): tell the server, remember it on this device. */
  setChosenStatus(status: ChosenStatus) {
    if (status === this.chosen) return;
    this.chosen = status;
    writeStatusHint(this.meId, status);
    this.emit('presence:set', { status: wireStatus(status, this.idle) });
    this.presence.touch();
  }
}
