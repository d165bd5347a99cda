// Typed REST calls of docs/API.md. Components use these through React Query; nothing else builds URLs.
import { rawRequest, type HttpClient } from './http';
import type {
  ChannelsList,
  CreateChannelBody,
  CreateInviteBody,
  DMChannel,
  DMList,
  Id,
  Invite,
  InvitePreview,
  InvitesList,
  BansList,
  Privacy,
  UpdateServerBody,
  Me,
  MembersPage,
  MessageAnswer,
  MessagesPage,
  NotificationSettings,
  PinsList,
  PresenceList,
  ReactedPage,
  Role,
  SearchResults,
  Server,
  ServersList,
  TextChannel,
  UpdateChannelBody,
  UpdateMeBody,
  User,
  UsersPage,
  Member,
  UploadLimits,
} from './types';

const q = (params: Record<string, string | number | undefined | null>) => {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : '';
};
const e = encodeURIComponent;

export const PAGE_SIZE = 50;

/** Invite previews need no login. */
export const fetchInvitePreview = (code: string) => rawRequest<InvitePreview>(`/invites/${e(code)}`);

export function createApi(http: HttpClient) {
  return {
    // files
    uploadLimits: () => http.get<UploadLimits>('/attachments/limits'),

    // users
    me: () => http.get<Me>('/users/me'),
    updateMe: (body: UpdateMeBody) => http.patch<Me>('/users/me', body),
    clearAvatar: () => http.del<Me>('/users/me/avatar'),
    clearServerIcon: (serverId: Id) => http.del<Server>(`/servers/${serverId}/icon`),
    user: (id: Id) => http.get<User>(`/users/${e(id)}`),
    searchUsers: (query: string, limit = 20) => http.get<UsersPage>(`/users${q({ query, limit })}`),

    // servers
    servers: () => http.get<ServersList>('/servers'),
    server: (id: Id) => http.get<Server>(`/servers/${e(id)}`),
    createServer: (name: string) => http.post<Server>('/servers', { name }),
    renameServer: (id: Id, name: string) => http.patch<Server>(`/servers/${e(id)}`, { name }),
    updateServer: (id: Id, body: UpdateServerBody) => http.patch<Server>(`/servers/${e(id)}`, body),
    deleteServer: (id: Id) => http.del(`/servers/${e(id)}`),
    leaveServer: (id: Id) => http.del(`/servers/${e(id)}/members/me`),

    // invites
    createInvite: (serverId: Id, body: CreateInviteBody = {}) => http.post<Invite>(`/servers/${e(serverId)}/invites`, body),
    invitePreview: (code: string) => http.get<InvitePreview>(`/invites/${e(code)}`),
    joinInvite: (code: string) => http.post<Server>(`/invites/${e(code)}/join`),
    /** Owners and admins: every invite of the server, newest first. */
    invites: (serverId: Id) => http.get<InvitesList>(`/servers/${e(serverId)}/invites`),
    revokeInvite: (serverId: Id, code: string) => http.del(`/servers/${e(serverId)}/invites/${e(code)}`),

    // bans (owners and admins)
    bans: (serverId: Id) => http.get<BansList>(`/servers/${e(serverId)}/bans`),
    ban: (serverId: Id, userId: Id, reason = '') =>
      http.request<void>(`/servers/${e(serverId)}/bans/${e(userId)}`, { method: 'PUT', body: { reason } }),
    unban: (serverId: Id, userId: Id) => http.del(`/servers/${e(serverId)}/bans/${e(userId)}`),

    // members
    members: (serverId: Id, after?: Id, limit = 50) =>
      http.get<MembersPage>(`/servers/${e(serverId)}/members${q({ limit, after })}`),
    kick: (serverId: Id, userId: Id) => http.del(`/servers/${e(serverId)}/members/${e(userId)}`),
    setRole: (serverId: Id, userId: Id, role: Exclude<Role, 'owner'>) =>
      http.patch<Member>(`/servers/${e(serverId)}/members/${e(userId)}`, { role }),

    // channels
    channels: (serverId: Id) => http.get<ChannelsList>(`/servers/${e(serverId)}/channels`),
    createChannel: (serverId: Id, body: CreateChannelBody) => http.post<TextChannel>(`/servers/${e(serverId)}/channels`, body),
    updateChannel: (id: Id, body: UpdateChannelBody) => http.patch<TextChannel>(`/channels/${e(id)}`, body),
    deleteChannel: (id: Id) => http.del(`/channels/${e(id)}`),

    // DMs
    dms: () => http.get<DMList>('/dms'),
    openDM: (userIds: Id[]) => http.post<DMChannel>('/dms', { userIds }),
    /** A 1:1 DM: hide it until the next message; a group DM: leave it. */
    closeDM: (id: Id) => http.del(`/dms/${e(id)}`),
    /** Turns end-to-end encryption on for everyone in the DM (idempotent; it cannot be turned off). */
    encryptDM: (id: Id) => http.request<DMChannel>(`/dms/${e(id)}/encryption`, { method: 'PUT' }),

    // blocks and privacy
    blocked: () => http.get<UsersPage>('/me/blocks'),
    block: (userId: Id) => http.request<void>(`/me/blocks/${e(userId)}`, { method: 'PUT' }),
    unblock: (userId: Id) => http.del(`/me/blocks/${e(userId)}`),
    privacy: () => http.get<Privacy>('/me/privacy'),
    savePrivacy: (body: Privacy) => http.request<Privacy>('/me/privacy', { method: 'PUT', body }),

    // messages: newest first with `before` or no cursor
    // (oldest first with `after` or `around`)
    messages: (channelId: Id, opts: { before?: Id; after?: Id; around?: Id; limit?: number } = {}) =>
      http.get<MessagesPage>(
        `/channels/${e(channelId)}/messages${q({ before: opts.before, after: opts.after, around: opts.around, limit: opts.limit ?? PAGE_SIZE })}`,
      ),
    /** One message (a reply's original); 404 once deleted. */
    message: (channelId: Id, messageId: Id) => http.get<MessageAnswer>(`/channels/${e(channelId)}/messages/${e(messageId)}`),

    // pins: most recently pinned first
    pins: (channelId: Id) => http.get<PinsList>(`/channels/${e(channelId)}/pins`),
    pin: (channelId: Id, messageId: Id) => http.request<void>(`/channels/${e(channelId)}/pins/${e(messageId)}`, { method: 'PUT' }),
    unpin: (channelId: Id, messageId: Id) => http.del(`/channels/${e(channelId)}/pins/${e(messageId)}`),

    // notification settings
    settings: () => http.get<NotificationSettings>('/me/settings'),
    saveSettings: (body: NotificationSettings) => http.request<NotificationSettings>('/me/settings', { method: 'PUT', body }),
    // who reacted to a message with an emoji (by user id)
    reacted: (channelId: Id, messageId: Id, emoji: string, after?: Id, limit = 50) =>
      http.get<ReactedPage>(`/channels/${e(channelId)}/messages/${e(messageId)}/reactions${q({ emoji, after, limit })}`),

    // message search (docs/API.md#search): a server's channels, or the caller's DMs
    search: (query: string, scope: { serverId?: Id; dms?: boolean }, before?: Id, limit = 25) =>
      http.get<SearchResults>(
        `/search${q({ q: query, serverId: scope.serverId, dms: scope.dms ? 'true' : undefined, before, limit, context: 1, tzOffset: new Date().getTimezoneOffset() })}`,
      ),

    // presence
    presence: (userIds: Id[]) => http.get<PresenceList>(`/presence${q({ userIds: userIds.join(',') })}`),
  };
}

export type Api = ReturnType<typeof createApi>;
