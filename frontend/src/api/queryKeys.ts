import type { Id } from './types';

export const qk = {
  me: ['me'] as const,
  servers: ['servers'] as const,
  server: (id: Id) => ['server', id] as const,
  channelsAll: ['channels'] as const,
  channels: (serverId: Id) => ['channels', serverId] as const,
  dms: ['dms'] as const,
  members: (serverId: Id) => ['members', serverId] as const,
  user: (id: Id) => ['user', id] as const,
  invite: (code: string) => ['invite', code] as const,
  settings: ['settings'] as const,
  pinsAll: ['pins'] as const,
  pins: (channelId: Id) => ['pins', channelId] as const,
  userSearch: (q: string) => ['userSearch', q] as const,
  invites: (serverId: Id) => ['invites', serverId] as const,
  bans: (serverId: Id) => ['bans', serverId] as const,
  blocked: ['blocked'] as const,
  privacy: ['privacy'] as const,
};
