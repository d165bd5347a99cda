// Message events into the per-channel lists and the query cache: new (with its unread count, mention and
// notification decision), updated, deleted, reactions, pins; and the settings those decisions read.
import type { QueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { ParleySocket } from '../api/socket';
import type { Id, Message, NotificationSettings, PinUpdateEvent, UsersPage } from '../api/types';
import { findChannel, noteLastMessage } from '../app/cache';
import { applyDelete, applyUpdate, receiveMessage, updateReactions } from '../chat/messageStore';
import { decideIncoming, DEFAULT_SETTINGS, normalizeSettings, type IncomingDecision, type Place } from '../chat/notify';
import { applyPinUpdate, pinsRemove, pinsUpdateMessage, type PinsData } from '../chat/pins';
import { applyReactionEvent } from '../chat/reactions';
import { findLoaded, type OriginalsCache } from '../chat/replies';
import type { Connection } from './connection';
import type { ReadState } from './readState';
import type { ChatStore } from './stores';
import type { TypingStore } from './typing';

/** Someone else's message, as it arrived live (once per message), with what it should do. */
export interface IncomingMessage {
  message: Message;
  place: Place | undefined;
  decision: IncomingDecision;
}
type IncomingListener = (e: IncomingMessage) => void;

const tabHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

/** Whether a channel is a DM (an unknown channel most likely is: a DM someone just opened with us). */
export function isDM(qc: QueryClient, channelId: Id): boolean {
  const c = findChannel(qc, channelId);
  return c ? c.type === 'dm' : true;
}

export interface MessageEventsDeps {
  conn: Pick<Connection, 'send'>;
  qc: QueryClient;
  chat: ChatStore;
  originals: OriginalsCache;
  typing: Pick<TypingStore, 'set'>;
  read: Pick<ReadState, 'activeChannelId' | 'markRead'>;
  meId: Id;
}

export class MessageEvents {
  private listeners = new Set<IncomingListener>();
  /** Ids of recent messages already handed to incoming listeners (an event and a catch-up may bring one twice). */
  private announced = new Set<Id>();

  constructor(private readonly d: MessageEventsDeps) {}

  listen(s: ParleySocket) {
    const { chat, originals, qc } = this.d;
    const onMessage = (m: Message) => this.onMessage(m);
    s.on('message:new', onMessage);
    s.on('message:sent', onMessage);
    s.on('message:updated', (m) => {
      chat.update(m.channelId, (st) => applyUpdate(st, m));
      originals.update(m);
      qc.setQueryData<PinsData>(qk.pins(m.channelId), (d) => pinsUpdateMessage(d, m));
    });
    s.on('message:deleted', (e) => this.deleted(e.channelId, e.messageId));
    s.on('pin:update', (e) => this.onPinUpdate(e));
    s.on('reaction:update', (e) => {
      if (!e?.messageId || !e.channelId) return;
      chat.update(e.channelId, (st) => updateReactions(st, e.messageId, (r) => applyReactionEvent(r, e, this.d.meId)));
    });
  }

  /** A message is gone (the event, or my delete acknowledged): from the list, the replies' originals and the pins. */
  deleted(channelId: Id, messageId: Id) {
    this.d.chat.update(channelId, (st) => applyDelete(st, messageId));
    this.d.originals.markDeleted(channelId, messageId);
    this.d.qc.setQueryData<PinsData>(qk.pins(channelId), (d) => pinsRemove(d, messageId));
  }

  /** Someone else's new messages, live (not history or catch-up), for notifications. */
  onIncoming(l: IncomingListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The notification settings: the cached answer of GET /api/me/settings, else the defaults. */
  settings(): NotificationSettings {
    const s = this.d.qc.getQueryData<NotificationSettings>(qk.settings);
    return s ? normalizeSettings(s) : DEFAULT_SETTINGS;
  }

  /** Where a channel is: a DM, or a text channel of a server; undefined when not cached. */
  place(channelId: Id): Place | undefined {
    const c = findChannel(this.d.qc, channelId);
    if (!c) return undefined;
    return c.type === 'dm' ? { type: 'dm' } : { type: 'text', serverId: c.serverId };
  }

  private isBlocked(userId: Id): boolean {
    return !!this.d.qc.getQueryData<UsersPage>(qk.blocked)?.users?.some((u) => u.id === userId);
  }

  private onMessage(m: Message) {
    if (!m?.id || !m.channelId) return;
    const { chat, qc, read, meId } = this.d;
    chat.update(m.channelId, (st) => receiveMessage(st, m));
    if (m.senderId !== meId) {
      this.d.typing.set(m.channelId, m.senderId, false);
      if (isDM(qc, m.channelId)) this.d.conn.send('message:delivered', { channelId: m.channelId, messageId: m.id });
    }
    // Viewing: the channel is open in a visible tab (it is marked read). Otherwise the message counts as unread,
    // and as a mention when it mentions me (@everyone and @here only unless suppressed for its server).
    const hidden = tabHidden();
    const viewing = m.channelId === read.activeChannelId && !hidden;
    const place = this.place(m.channelId);
    // A message from someone I block counts for nothing (the server leaves it out of unread counts too).
    const blocked = this.isBlocked(m.senderId);
    const decision = decideIncoming({ message: m, meId, place, settings: this.settings(), viewing, hidden, blocked });
    const fromOther = m.senderId !== meId;
    const known = noteLastMessage(qc, m, fromOther && !blocked && !viewing, decision.mention && !viewing);
    if (!known) void qc.invalidateQueries({ queryKey: qk.dms });
    if (m.channelId === read.activeChannelId) read.markRead(m.channelId);
    if (fromOther && !blocked && !this.announced.has(m.id)) {
      this.announced.add(m.id);
      if (this.announced.size > 500) this.announced.delete(this.announced.values().next().value!);
      for (const l of this.listeners) l({ message: m, place, decision });
    }
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
