// React Query cache edits for socket events. Pure functions over the cached shapes, plus small helpers that apply
// them to a QueryClient.
import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type {
  AnyChannel,
  ChannelsList,
  DMChannel,
  DMList,
  Id,
  Member,
  MembersPage,
  Message,
  Server,
  ServersList,
  TextChannel,
  UnreadEvent,
  User,
} from '../api/types';
import { compareIds } from '../chat/ids';

export function upsertById<T extends { id: Id }>(list: T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  if (i < 0) return [...list, item];
  const next = list.slice();
  next[i] = { ...list[i], ...item };
  return next;
}

export function removeById<T extends { id: Id }>(list: T[], id: Id): T[] {
  const next = list.filter((x) => x.id !== id);
  return next.length === list.length ? list : next;
}

function patchChannel<C extends AnyChannel>(list: C[], id: Id, fn: (c: C) => C): C[] {
  let changed = false;
  const next = list.map((c) => {
    if (c.id !== id) return c;
    const n = fn(c);
    if (n !== c) changed = true;
    return n;
  });
  return changed ? next : list;
}

/** Applies `fn` to the cached channel `id`, wherever it is (a server's channel list or the DM list). */
export function patchAnyChannel(qc: QueryClient, id: Id, fn: <C extends AnyChannel>(c: C) => C): boolean {
  let found = false;
  qc.setQueriesData<ChannelsList>({ queryKey: qk.channelsAll }, (d) => {
    if (!d?.channels) return d;
    const channels = patchChannel(d.channels, id, (c) => {
      found = true;
      return fn(c);
    });
    return channels === d.channels ? d : { ...d, channels };
  });
  qc.setQueryData<DMList>(qk.dms, (d) => {
    if (!d?.channels) return d;
    const channels = patchChannel(d.channels, id, (c) => {
      found = true;
      return fn(c);
    });
    return channels === d.channels ? d : { ...d, channels };
  });
  return found;
}

export function findChannel(qc: QueryClient, id: Id): AnyChannel | undefined {
  const dm = qc.getQueryData<DMList>(qk.dms)?.channels.find((c) => c.id === id);
  if (dm) return dm;
  for (const [, d] of qc.getQueriesData<ChannelsList>({ queryKey: qk.channelsAll })) {
    const c = d?.channels?.find((x) => x.id === id);
    if (c) return c;
  }
  return undefined;
}

/**
 * Applies the reader's own read position (from this or another tab). Messages newer than that position stay
 * unread (the event may come after them: receipts are debounced): newerUnread is how many of them the loaded
 * history holds from others; without it the count already shown is kept.
 */
export function applyUnread(qc: QueryClient, ev: UnreadEvent, activeChannelId: Id | null, newerUnread?: number) {
  return patchAnyChannel(qc, ev.channelId, (c) => {
    const covers = !ev.lastReadId || !c.lastMessageId || compareIds(ev.lastReadId, c.lastMessageId) >= 0;
    const open = ev.channelId === activeChannelId;
    const unreadCount = open ? 0 : covers ? ev.unreadCount : Math.min(c.unreadCount, newerUnread ?? c.unreadCount);
    const mentionCount = open ? 0 : covers ? ev.mentionCount : c.mentionCount;
    if (c.unreadCount === unreadCount && c.mentionCount === mentionCount) return c;
    return { ...c, unreadCount, mentionCount };
  });
}

export function clearUnread(qc: QueryClient, channelId: Id) {
  patchAnyChannel(qc, channelId, (c) => (c.unreadCount === 0 && c.mentionCount === 0 ? c : { ...c, unreadCount: 0, mentionCount: 0 }));
}

/** The server caps unread counts here; badges show "99+" beyond 99. */
export const UNREAD_CAP = 100;

/**
 * Moves a channel's last message forward. With countUnread (someone else's message in a channel that is not open)
 * the channel's unread count goes up by one, live, and with countMention (it mentions me) its mention count too;
 * only a message newer than the last one known counts, so a message seen twice (event and catch-up) counts once.
 * A DM whose last message moves goes to the top of the DM list (sortDMs orders by it). Reports whether the channel
 * is in the cache.
 */
export function noteLastMessage(qc: QueryClient, m: Message, countUnread = false, countMention = false) {
  return patchAnyChannel(qc, m.channelId, (c) => {
    if (c.lastMessageId && compareIds(c.lastMessageId, m.id) >= 0) return c;
    const next = { ...c, lastMessageId: m.id, lastMessageAt: m.timestamp };
    if (countUnread) next.unreadCount = Math.min(UNREAD_CAP, c.unreadCount + 1);
    if (countMention) next.mentionCount = Math.min(UNREAD_CAP, (c.mentionCount || 0) + 1);
    return next;
  });
}

/** Unread mentions over every cached channel list and the DMs (the tab title's count). */
export function totalMentions(qc: QueryClient): number {
  let n = 0;
  const seen = new Set<Id>();
  const add = (c: AnyChannel) => {
    if (seen.has(c.id)) return;
    seen.add(c.id);
    n += c.mentionCount > 0 ? c.mentionCount : 0;
  };
  for (const [, d] of qc.getQueriesData<ChannelsList>({ queryKey: qk.channelsAll })) d?.channels?.forEach(add);
  qc.getQueryData<DMList>(qk.dms)?.channels?.forEach(add);
  return n;
}

export function upsertServer(qc: QueryClient, server: Server) {
  qc.setQueryData<ServersList>(qk.servers, (d) => (d ? { ...d, servers: upsertById(d.servers, server) } : d));
  // A "no access" answer from before joining is not refetched on its own (see isPermanentError): start over.
  for (const queryKey of [qk.channels(server.id), qk.members(server.id)]) {
    void qc.resetQueries({ queryKey, exact: true, predicate: (q) => q.state.status === 'error' });
  }
  qc.setQueryData<Server>(qk.server(server.id), (s) => (s ? { ...s, ...server } : server));
}

export function removeServer(qc: QueryClient, serverId: Id) {
  qc.setQueryData<ServersList>(qk.servers, (d) => (d ? { ...d, servers: removeById(d.servers, serverId) } : d));
  qc.removeQueries({ queryKey: qk.server(serverId) });
  qc.removeQueries({ queryKey: qk.channels(serverId) });
  qc.removeQueries({ queryKey: qk.members(serverId) });
}

export function upsertChannel(qc: QueryClient, channel: AnyChannel) {
  if (channel.type === 'dm') {
    qc.setQueryData<DMList>(qk.dms, (d) => (d ? { ...d, channels: upsertById<DMChannel>(d.channels, channel) } : d));
  } else {
    qc.setQueryData<ChannelsList>(qk.channels(channel.serverId), (d) =>
      d ? { ...d, channels: upsertById<TextChannel>(d.channels, channel) } : d,
    );
  }
}

export function removeChannel(qc: QueryClient, channel: Pick<AnyChannel, 'id'> & { serverId?: Id; type?: string }) {
  qc.setQueryData<DMList>(qk.dms, (d) => (d ? { ...d, channels: removeById(d.channels, channel.id) } : d));
  qc.setQueriesData<ChannelsList>({ queryKey: qk.channelsAll }, (d) =>
    d?.channels ? { ...d, channels: removeById(d.channels, channel.id) } : d,
  );
}

export function seedUsers(qc: QueryClient, users: User[]) {
  for (const u of users) if (u?.id) qc.setQueryData<User>(qk.user(u.id), u);
}

type MembersData = InfiniteData<MembersPage, Id | undefined>;

export function membersUpsert(data: MembersData | undefined, member: Member): MembersData | undefined {
  if (!data) return data;
  let found = false;
  const pages = data.pages.map((p) => {
    const i = p.members.findIndex((m) => m.user.id === member.user.id);
    if (i < 0) return p;
    found = true;
    const members = p.members.slice();
    members[i] = member;
    return { ...p, members };
  });
  if (!found) {
    const last = pages.length - 1;
    // Only append when the list is complete, otherwise a later page will bring the member.
    if (last >= 0 && !pages[last].hasMore) pages[last] = { ...pages[last], members: [...pages[last].members, member] };
  }
  return { ...data, pages };
}

export function membersRemove(data: MembersData | undefined, userId: Id): MembersData | undefined {
  if (!data) return data;
  return { ...data, pages: data.pages.map((p) => ({ ...p, members: p.members.filter((m) => m.user.id !== userId) })) };
}
