// What the socket's events do, and the catch-up after a connect: loaded beside the socket client (its own chunk),
// not with the chat screen, whose first paint needs none of it (issue #16's budget). The coordinator (realtime.ts)
// has this module before the socket connects, so no event arrives before its handler; tests pass it in
// (RealtimeDeps.live) and stay synchronous. The stores keep their state and what the screens call.
import type { ParleySocket } from '../api/socket';
import type { Ack, Id, Message, SyncResult, UnreadEvent, UsersPage } from '../api/types';
import { qk } from '../api/queryKeys';
import { applyUnread, findChannel, noteLastMessage } from '../app/cache';
import { applySync, planSync } from '../chat/catchup';
import { compareIds } from '../chat/ids';
import { applyReceipt, applyUpdate, pinsUpdateMessage, updateReactions } from '../chat/messageEdits';
import { receiveMessage } from '../chat/messageStore';
import { decideIncoming } from '../chat/incoming';
import { normalizeSettings, type Place } from '../chat/notify';
import type { PinsData } from '../chat/pins';
import { applyReactionEvent } from '../chat/reactions';
import { SEND_TIMEOUT_MS } from '../chat/send';
import { listenMembership } from './membership';
import { messageDeleted, pinUpdated } from './messageEffects';
import type { Realtime } from './realtime';

// The sender's outbox and its operations that need the server (realtime/sending.ts uses them): nothing is sent
// before the socket connects, so they come here.
export { SenderOps } from './senderOps';
// Paging beyond the newest page (history.ts makes it on first use).
export { paging } from './paging';

const tabHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

/** Whether a channel is a DM (an unknown channel most likely is: a DM someone just opened with us). */
function isDM(rt: Realtime, channelId: Id): boolean {
  const c = findChannel(rt.qc, channelId);
  return c ? c.type === 'dm' : true;
}

/** Where a channel is: a DM, or a text channel of a server; undefined when not cached. */
function place(rt: Realtime, channelId: Id): Place | undefined {
  const c = findChannel(rt.qc, channelId);
  if (!c) return undefined;
  return c.type === 'dm' ? { type: 'dm' } : { type: 'text', serverId: c.serverId };
}

/** Wires every store's socket events (once, when the socket client has loaded, before it connects). */
export function listen(rt: Realtime, s: ParleySocket) {
  const { chat, originals, qc, meId, read, typing, presence, messages } = rt;
  /** Ids of recent messages already handed to incoming listeners (an event and a catch-up may bring one twice). */
  const announced = new Set<Id>();

  const isBlocked = (userId: Id) => !!qc.getQueryData<UsersPage>(qk.blocked)?.users?.some((u) => u.id === userId);

  const onMessage = (m: Message) => {
    if (!m?.id || !m.channelId) return;
    chat.update(m.channelId, (st) => receiveMessage(st, m));
    if (m.senderId !== meId) {
      typing.set(m.channelId, m.senderId, false);
      if (isDM(rt, m.channelId)) rt.sockets.send('message:delivered', { channelId: m.channelId, messageId: m.id });
    }
    // Viewing: the channel is open in a visible tab (it is marked read). Otherwise the message counts as unread,
    // and as a mention when it mentions me (@everyone and @here only unless suppressed for its server).
    const hidden = tabHidden();
    const viewing = m.channelId === read.activeChannelId && !hidden;
    const where = place(rt, m.channelId);
    // A message from someone I block counts for nothing (the server leaves it out of unread counts too).
    const blocked = isBlocked(m.senderId);
    const decision = decideIncoming({ message: m, meId, place: where, settings: messages.settings(), viewing, hidden, blocked });
    const fromOther = m.senderId !== meId;
    const known = noteLastMessage(qc, m, fromOther && !blocked && !viewing, decision.mention && !viewing);
    if (!known) void qc.invalidateQueries({ queryKey: qk.dms });
    if (m.channelId === read.activeChannelId) read.markRead(m.channelId);
    if (fromOther && !blocked && !announced.has(m.id)) {
      announced.add(m.id);
      if (announced.size > 500) announced.delete(announced.values().next().value!);
      for (const l of messages.incoming) l({ message: m, place: where, decision });
    }
  };

  /**
   * Applies my new read position to the channel's badge. Receipts are debounced, so the position can be older
   * than messages that arrived since: those stay unread (counted from the loaded history).
   */
  const ownReadMoved = (e: UnreadEvent) => {
    const st = chat.getChannel(e.channelId);
    const newer = e.lastReadId && st ? st.messages.filter((m) => m.senderId !== meId && compareIds(m.id, e.lastReadId!) > 0).length : undefined;
    const found = applyUnread(qc, e, read.activeChannelId, newer);
    if (!found) void qc.invalidateQueries({ queryKey: qk.dms });
    if (e.channelId === read.activeChannelId) read.markRead(e.channelId);
  };

  // Messages, reactions, pins.
  s.on('message:new', onMessage);
  s.on('message:sent', onMessage);
  s.on('message:updated', (m) => {
    chat.update(m.channelId, (st) => applyUpdate(st, m));
    originals.update(m);
    qc.setQueryData<PinsData>(qk.pins(m.channelId), (d) => pinsUpdateMessage(d, m));
  });
  s.on('message:deleted', (e) => messageDeleted(rt, e.channelId, e.messageId));
  s.on('pin:update', (e) => pinUpdated(rt, e));
  s.on('reaction:update', (e) => {
    if (!e?.messageId || !e.channelId) return;
    chat.update(e.channelId, (st) => updateReactions(st, e.messageId, (r) => applyReactionEvent(r, e, meId)));
  });
  // Typing and presence.
  s.on('typing:user', (e) => {
    if (e.userId !== meId) typing.set(e.channelId, e.userId, e.typing);
  });
  s.on('presence:update', (p) => presence.set([p]));
  s.on('presence:batch', (b) => presence.set(b.updates));
  // Receipts and read positions.
  s.on('receipt:update', (e) => {
    if (e.userId === meId) {
      // My read position moved (this tab's receipt, another tab or device).
      ownReadMoved({ channelId: e.channelId, unreadCount: 0, mentionCount: 0, lastReadId: e.messageId });
      return;
    }
    chat.updateReceipts(e.channelId, (r) => applyReceipt(r, 'read', e));
  });
  s.on('receipt:delivered', (e) => chat.updateReceipts(e.channelId, (r) => applyReceipt(r, 'delivered', e)));
  s.on('unread:update', (e) => ownReadMoved(e));
  // Servers, channels, members.
  listenMembership(s, qc, chat, meId, (ids) => presence.want(ids), (n) => rt.membership.notice(n));
  // Settings changed in another tab or device.
  s.on('settings:update', (e) => {
    if (!e || typeof e !== 'object') return;
    const settings = normalizeSettings(e);
    qc.setQueryData(qk.settings, settings);
    presence.setChosen(settings.status);
  });
}

/** Catch-up after (re)connect: `messages:sync` from the newest id we hold per loaded channel. */
export async function catchUp(rt: Realtime, only?: Id[]): Promise<void> {
  const { chat, qc, read, meId } = rt;
  const loadNewest = rt.history.loadNewest;
  const plan = planSync(chat.getAll(), only);
  for (const id of plan.refetch) void loadNewest(id).catch(() => undefined);
  if (!plan.payload) return;
  let res: Ack<SyncResult>;
  try {
    const payload = plan.payload;
    res = await rt.sockets.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('messages:sync', payload));
  } catch {
    // No answer: fall back to refetching the newest page of each channel.
    for (const id of Object.keys(plan.payload.channels)) void loadNewest(id).catch(() => undefined);
    return;
  }
  if (!res || !res.ok) {
    for (const id of Object.keys(plan.payload.channels)) void loadNewest(id).catch(() => undefined);
    return;
  }
  const applied = applySync(chat.getAll(), res);
  chat.setMany(applied.updated);
  for (const id of applied.refetch) void loadNewest(id).catch(() => undefined);
  for (const [channelId, msgs] of applied.added) {
    const fromOthers = msgs.filter((m) => m.senderId !== meId);
    const last = fromOthers[fromOthers.length - 1];
    if (last && isDM(rt, channelId)) rt.sockets.send('message:delivered', { channelId, messageId: last.id });
    const newest = msgs[msgs.length - 1];
    if (newest) noteLastMessage(qc, newest);
    if (channelId === read.activeChannelId) read.markRead(channelId);
  }
}

export type Live = typeof import('./live');
