// Servers, channels and members as events change them (server:update, channel:update, member:update): the
// query cache follows, and being removed (kicked, banned, a server or channel deleted) is told as a notice.
// Loaded with the other event handlers (live.ts), not with the chat screen.
import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { ParleySocket } from '../api/socket';
import type { ChannelUpdateEvent, DMList, Id, MembersPage, MemberUpdateEvent, Server, ServersList, ServerUpdateEvent } from '../api/types';
import { membersRemove, membersUpsert, patchAnyChannel, removeChannel, removeServer, seedUsers, upsertChannel, upsertServer } from '../app/cache';
import type { ChatStore } from './stores';

export interface RemovalNotice {
  kind: 'server' | 'channel';
  id: Id;
  serverId?: Id;
  message: string;
}

/**
 * Wires the session's membership events to the query cache; removals are told through `notice` (the coordinator's
 * `membership.onRemoved` listeners). Part of the lazy event handlers (live.ts).
 */
export function listenMembership(
  s: ParleySocket,
  qc: QueryClient,
  chat: Pick<ChatStore, 'drop'>,
  meId: Id,
  wantPresence: (ids: Id[]) => void,
  notice: (n: RemovalNotice) => void,
) {
  s.on('server:update', (e) => onServerUpdate(e));
  s.on('channel:update', (e) => onChannelUpdate(e));
  s.on('member:update', (e) => onMemberUpdate(e));

  function serverName(id: Id): string {
    return (
      qc.getQueryData<Server>(qk.server(id))?.name ??
      qc.getQueryData<ServersList>(qk.servers)?.servers.find((s) => s.id === id)?.name ??
      'the server'
    );
  }

  function onServerUpdate({ server, action }: ServerUpdateEvent) {
    if (!server?.id) return;
    switch (action) {
      case 'created':
      case 'joined':
      case 'updated':
        upsertServer(qc, server);
        if (action !== 'updated') void qc.invalidateQueries({ queryKey: qk.servers });
        break;
      case 'deleted':
      case 'left':
      case 'kicked':
      case 'banned': {
        // A kicked member is told only here: the server's room, which carries member:update, no longer has them.
        const name = server.name || serverName(server.id);
        removeServer(qc, server.id);
        const message = {
          deleted: `"${name}" was deleted.`,
          left: `You left "${name}".`,
          kicked: `You were removed from "${name}".`,
          banned: `You were banned from "${name}".`,
        }[action];
        notice({ kind: 'server', id: server.id, message });
        break;
      }
    }
  }

  function onChannelUpdate({ channel, action }: ChannelUpdateEvent) {
    if (!channel?.id) return;
    if (action === 'closed' || action === 'left') {
      // I closed the DM (another tab) or left the group: off my list, without a notice (it was my doing).
      removeChannel(qc, channel);
      if (action === 'left') chat.drop(channel.id);
      return;
    }
    if (action === 'updated' && channel.type === 'dm') {
      // Someone left a group DM, or turned end-to-end encryption on: only participants and the flag change (the
      // event carries no traffic fields). The flag never goes off.
      const participants = channel.participants ?? [];
      patchAnyChannel(qc, channel.id, (c) =>
        c.type === 'dm' ? { ...c, participants: participants.length ? participants : c.participants, encrypted: !!(c.encrypted || channel.encrypted) } : c,
      );
      seedUsers(qc, participants);
      return;
    }
    if (action === 'deleted') {
      removeChannel(qc, channel);
      chat.drop(channel.id);
      notice({
        kind: 'channel',
        id: channel.id,
        serverId: channel.type === 'text' ? channel.serverId : undefined,
        message: channel.type === 'text' ? `#${channel.name} was deleted.` : 'This conversation was deleted.',
      });
      return;
    }
    upsertChannel(qc, channel);
    if (channel.type === 'dm') seedUsers(qc, channel.participants ?? []);
    if (action === 'created' && channel.type === 'dm' && !qc.getQueryData<DMList>(qk.dms)) {
      void qc.invalidateQueries({ queryKey: qk.dms });
    }
  }

  function onMemberUpdate({ serverId, member, action }: MemberUpdateEvent) {
    if (!member?.user?.id) return;
    const mine = member.user.id === meId;
    const gone = action === 'left' || action === 'kicked' || action === 'banned';
    if (mine && gone) {
      const name = serverName(serverId);
      removeServer(qc, serverId);
      notice({
        kind: 'server',
        id: serverId,
        message:
          action === 'kicked' ? `You were removed from "${name}".` : action === 'banned' ? `You were banned from "${name}".` : `You left "${name}".`,
      });
      return;
    }
    if (mine && action === 'role') {
      const patch = (s: Server | undefined) => (s ? { ...s, role: member.role } : s);
      qc.setQueryData<Server>(qk.server(serverId), patch);
      qc.setQueryData<ServersList>(qk.servers, (d) =>
        d ? { ...d, servers: d.servers.map((s) => (s.id === serverId ? { ...s, role: member.role } : s)) } : d,
      );
    }
    seedUsers(qc, [member.user]);
    type MD = InfiniteData<MembersPage, Id | undefined>;
    const delta = action === 'joined' ? 1 : gone ? -1 : 0;
    if (action === 'banned') void qc.invalidateQueries({ queryKey: qk.bans(serverId) });
    if (gone) {
      qc.setQueryData<MD>(qk.members(serverId), (d) => membersRemove(d, member.user.id));
    } else {
      qc.setQueryData<MD>(qk.members(serverId), (d) => membersUpsert(d, member));
      wantPresence([member.user.id]);
    }
    if (delta) {
      const bump = (s: Server | undefined) => (s ? { ...s, memberCount: Math.max(0, s.memberCount + delta) } : s);
      qc.setQueryData<Server>(qk.server(serverId), bump);
      qc.setQueryData<ServersList>(qk.servers, (d) =>
        d ? { ...d, servers: d.servers.map((s) => (s.id === serverId ? bump(s)! : s)) } : d,
      );
    }
  }
}
