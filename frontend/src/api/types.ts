// Every wire shape of docs/API.md, in one place. IDs are decimal strings of 64-bit ints: never convert them to
// Number. Times are RFC 3339 strings.

export type Id = string;
export type Timestamp = string;

// ---------------------------------------------------------------------------------------------------------------
// Objects

export interface User {
  id: Id;
  username: string;
  displayName: string;
  avatarUrl: string;
  createdAt: Timestamp;
}

export interface Me extends User {
  email: string;
}

export type Role = 'owner' | 'admin' | 'member';

export interface Server {
  id: Id;
  name: string;
  ownerId: Id;
  role: Role;
  memberCount: number;
  createdAt: Timestamp;
  /** Plain members may create invites (owners and admins always may). */
  membersCanInvite: boolean;
  /** "" or /avatars/<id>.png: the server's icon (initials otherwise). */
  iconUrl?: string;
}

interface ChannelTraffic {
  createdAt: Timestamp;
  lastMessageId: Id | null;
  lastMessageAt: Timestamp | null;
  unreadCount: number;
  mentionCount: number;
}

export interface TextChannel extends ChannelTraffic {
  id: Id;
  serverId: Id;
  name: string;
  topic: string;
  type: 'text';
}

export interface DMChannel extends ChannelTraffic {
  id: Id;
  type: 'dm';
  participants: User[];
  /** A group DM (it can be left), even once only two people are left in it; absent for a 1:1 DM. */
  group?: boolean;
  /** End-to-end encrypted (a member turned it on; it never goes off): the server takes only ciphertext here. */
  encrypted?: boolean;
}

/** Named `Channel` in API.md: a server's text channel. */
export type Channel = TextChannel;
export type AnyChannel = TextChannel | DMChannel;

export interface Member {
  user: User;
  role: Role;
  joinedAt: Timestamp;
}

export interface Invite {
  code: string;
  serverId: Id;
  maxUses: number | null;
  uses: number;
  expiresAt: Timestamp | null;
  createdAt: Timestamp;
}

/** An invite in a server's list (owners and admins): with who created it (null once that account is gone). */
export interface ListedInvite extends Invite {
  creator: User | null;
}

/** One entry of a server's ban list. */
export interface Ban {
  user: User;
  reason: string;
  bannedBy: Id | null;
  createdAt: Timestamp;
}

/** Who may open a new DM with me: people who share a server with me (default), or anyone. */
export type DMPolicy = 'server_members' | 'everyone';
export interface Privacy {
  allowDMsFrom: DMPolicy;
}

export interface InvitePreview {
  code: string;
  server: { id: Id; name: string; memberCount: number };
  expiresAt: Timestamp | null;
}

export interface Message {
  id: Id;
  channelId: Id;
  senderId: Id;
  content: string;
  timestamp: Timestamp;
  nonce: string;
  editedAt?: Timestamp | null;
  /** Own messages: whether the other side has read it (present on some history endpoints). */
  read?: boolean;
  /** Users the message mentions, resolved by the server (`<@id>` in content; for @here, who was online). */
  mentions?: Id[];
  /** An allowed @everyone (owner/admin in a server, anyone in a DM). */
  mentionEveryone?: boolean;
  /** Present (possibly empty) in history pages; absent in message events (keep what you have). */
  reactions?: Reaction[];
  /** The answered message's id, or null. */
  replyTo?: Id | null;
  /** End-to-end encrypted DM: content is the base64 MLS ciphertext. */
  encrypted?: boolean;
  /**
   * "pin": the system line "<sender> pinned a message" (content "", replyTo = the pinned message); "encryption":
   * "<sender> turned on end-to-end encryption" (a DM).
   */
  type?: 'default' | 'pin' | 'encryption';
  /** Files sent with the message (always present from the server; content may be "" when there are some). */
  attachments?: Attachment[];
}

/** A file in a message. `url` and `previewUrl` are on our origin under /files/ (the files cookie authorises them). */
export interface Attachment {
  id: Id;
  name: string;
  /** Sniffed by the server from the bytes. */
  contentType: string;
  size: number;
  /** Images: pixels, so the space is reserved before the image loads. */
  width?: number;
  height?: number;
  url: string;
  previewUrl?: string;
  /** Text and code files: their first lines. */
  snippet?: string;
}

/** What the server accepts (GET /api/attachments/limits). */
export interface UploadLimits {
  maxSize: number;
  maxPerMessage: number;
  types: string[];
}

/** One emoji's reactions to a message as the caller sees them. */
export interface Reaction {
  emoji: string;
  count: number;
  /** The caller reacted with this emoji. */
  me: boolean;
  /** The first few (up to 10) who reacted, in order. */
  userIds: Id[];
}

/** 'dnd' and 'invisible' are chosen by the user; others never see 'invisible' (it reads 'offline'). */
export type PresenceStatus = 'online' | 'idle' | 'dnd' | 'invisible' | 'offline';
/** The presence a user chooses (settings.status). */
export type ChosenStatus = 'online' | 'idle' | 'dnd' | 'invisible';

export interface Presence {
  userId: Id;
  status: PresenceStatus;
  lastSeen: Timestamp;
}

export type DesktopNotify = 'all' | 'mentions' | 'none';

/** Per-user notification settings (GET/PUT /api/me/settings; pushed to other tabs as settings:update). */
export interface NotificationSettings {
  mutedChannels: Id[];
  mutedServers: Id[];
  /** Servers whose @everyone / @here neither count as mentions nor notify. */
  suppressEveryone: Id[];
  notifySound: boolean;
  desktop: DesktopNotify;
  /** The chosen presence; do not disturb silences notifications and sounds. */
  status: ChosenStatus;
}

/** POST /auth/register's answer (202) when the server verifies addresses: a link was mailed. */
export interface VerificationSent {
  verification: 'sent';
  email: string;
}

export interface AuthResult {
  user: Me;
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Timestamp;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

export type ErrorCode =
  | 'invalid_input'
  | 'unauthorized'
  | 'token_expired'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'payload_too_large'
  | 'rate_limited'
  | 'limit_reached'
  // Plaintext sent into an encrypted DM: seal it and send it again.
  | 'encryption_required'
  // A sealed send the key service's rotation policy refused (nothing stored): rotate / catch up, reseal, resend.
  | 'rotation_overdue'
  | 'stale_epoch'
  | 'unavailable'
  | 'internal'
  // Client-side only: the request never got an answer.
  | 'network'
  | 'timeout';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

// ---------------------------------------------------------------------------------------------------------------
// REST bodies and answers

export interface RegisterBody {
  username: string;
  email: string;
  password: string;
}
export interface LoginBody {
  login: string;
  password: string;
}
export interface RefreshBody {
  refreshToken: string;
}
export interface UpdateMeBody {
  displayName?: string;
  avatarUrl?: string;
}
export interface CreateInviteBody {
  /** 0 or absent: unlimited. */
  maxUses?: number;
  /** Absent: 7 days; 0: never. */
  expiresInSeconds?: number;
}
export interface UpdateServerBody {
  name?: string;
  membersCanInvite?: boolean;
}
export interface CreateChannelBody {
  name: string;
  topic?: string;
}
export interface UpdateChannelBody {
  name?: string;
  topic?: string;
}

export interface UsersPage {
  users: User[];
}
export interface ServersList {
  servers: Server[];
}
export interface MembersPage {
  members: Member[];
  hasMore: boolean;
}
export interface InvitesList {
  invites: ListedInvite[];
}
export interface BansList {
  bans: Ban[];
}
export interface ChannelsList {
  channels: TextChannel[];
}
export interface DMList {
  channels: DMChannel[];
}
/** Newest first for `before` (and with no cursor); oldest first for `after`. */
export interface MessagesPage {
  messages: Message[];
  hasMore: boolean;
}
/** GET /channels/:id/messages/:messageId/reactions?emoji=: who reacted, by user id. */
export interface ReactedPage {
  users: User[];
  hasMore: boolean;
}
export interface MessageAnswer {
  message: Message;
}
/** Most recently pinned first. */
export interface PinsList {
  messages: Message[];
}
export interface PresenceList {
  presence: Presence[];
}

// ---------------------------------------------------------------------------------------------------------------
// Socket.IO

export interface AckError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}
export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: AckError };

export interface SendMessagePayload {
  channelId: Id;
  content: string;
  nonce: string;
  replyTo?: Id;
  /** Ids of files uploaded to the channel (POST /api/channels/:id/attachments). */
  attachments?: Id[];
  encrypted?: boolean;
}
export interface EditMessagePayload {
  channelId: Id;
  messageId: Id;
  content: string;
  /** content is new ciphertext (required in an encrypted DM). */
  encrypted?: boolean;
}
export interface DeleteMessagePayload {
  channelId: Id;
  messageId: Id;
}
export interface SyncPayload {
  channels: Record<Id, Id>;
}
export interface SyncResult {
  messages: Record<Id, Message[]>;
  hasMore: Record<Id, boolean>;
}
export interface ChannelRef {
  channelId: Id;
}
export interface ReceiptPayload {
  channelId: Id;
  messageId: Id;
}

export interface ReactionPayload {
  channelId: Id;
  messageId: Id;
  /** One Unicode emoji (not a :shortcode:). */
  emoji: string;
}

export interface ReactionUpdateEvent {
  channelId: Id;
  messageId: Id;
  emoji: string;
  /** The emoji's new total on the message. */
  count: number;
  userId: Id;
  action: 'add' | 'remove';
  /** The first few who reacted, after the change. */
  userIds: Id[];
}

export interface TypingEvent {
  channelId: Id;
  userId: Id;
  typing: boolean;
}
export interface ReceiptEvent {
  channelId: Id;
  userId: Id;
  messageId: Id;
}
export interface UnreadEvent {
  channelId: Id;
  unreadCount: number;
  mentionCount: number;
  /** The reader's new read position (the event follows their own receipt, e.g. from another tab). */
  lastReadId: Id | null;
}
export interface ServerUpdateEvent {
  server: Server;
  action: 'created' | 'updated' | 'deleted' | 'joined' | 'left' | 'kicked' | 'banned';
}
export interface ChannelUpdateEvent {
  channel: AnyChannel;
  /** DMs also: "closed" (I closed it, in another tab), "left" (I left the group); "updated" carries the participants. */
  action: 'created' | 'updated' | 'deleted' | 'closed' | 'left';
}
export interface MemberUpdateEvent {
  serverId: Id;
  member: Member;
  action: 'joined' | 'left' | 'kicked' | 'banned' | 'role';
}
export interface MessageDeletedEvent {
  channelId: Id;
  messageId: Id;
}
export interface PinUpdateEvent {
  channelId: Id;
  messageId: Id;
  userId: Id;
  pinned: boolean;
}
export interface SessionRevokedEvent {
  reason: string;
}

export interface ServerToClientEvents {
  'message:sent': (m: Message) => void;
  'message:new': (m: Message) => void;
  'message:updated': (m: Message) => void;
  'message:deleted': (e: MessageDeletedEvent) => void;
  'typing:user': (e: TypingEvent) => void;
  'presence:update': (p: Presence) => void;
  /** Several changes at once, the latest state per user (the server batches presence per room: every 250 ms for
   *  DMs and small servers, at most once per members × 1 ms for a busy large server; see docs/API.md). */
  'presence:batch': (b: { updates: Presence[] }) => void;
  'receipt:update': (e: ReceiptEvent) => void;
  'receipt:delivered': (e: ReceiptEvent) => void;
  'unread:update': (e: UnreadEvent) => void;
  'server:update': (e: ServerUpdateEvent) => void;
  'channel:update': (e: ChannelUpdateEvent) => void;
  'member:update': (e: MemberUpdateEvent) => void;
  'session:revoked': (e: SessionRevokedEvent) => void;
  'settings:update': (s: NotificationSettings) => void;
  'reaction:update': (e: ReactionUpdateEvent) => void;
  'pin:update': (e: PinUpdateEvent) => void;
  /** The key service changed something for this user's encrypted conversations: sync now (a hint; no secrets). */
  'e2ee:sync': (e: { reason: string; groupId?: string; deviceId?: string }) => void;
}

export interface ClientToServerEvents {
  'message:send': (p: SendMessagePayload, ack: (a: Ack<{ message: Message }>) => void) => void;
  'message:edit': (p: EditMessagePayload, ack: (a: Ack<{ message: Message }>) => void) => void;
  'message:delete': (p: DeleteMessagePayload, ack: (a: Ack) => void) => void;
  'messages:sync': (p: SyncPayload, ack: (a: Ack<SyncResult>) => void) => void;
  'typing:start': (p: ChannelRef) => void;
  'typing:stop': (p: ChannelRef) => void;
  'presence:set': (p: { status: ChosenStatus }) => void;
  'receipt:read': (p: ReceiptPayload, ack: (a: Ack) => void) => void;
  'message:delivered': (p: ReceiptPayload) => void;
  'reaction:add': (p: ReactionPayload, ack: (a: Ack<{ reaction: Reaction }>) => void) => void;
  'reaction:remove': (p: ReactionPayload, ack: (a: Ack<{ reaction: Reaction }>) => void) => void;
}

/** GET /search: a span of a message's content (UTF-16 code units, end exclusive) that matched. */
export interface TextRange {
  start: number;
  end: number;
}
export interface SearchResult {
  message: Message;
  highlights: TextRange[];
  /** With `context=`: the messages around it, oldest first. */
  before?: Message[];
  after?: Message[];
}
/** GET /search?q=&serverId= | dms=true: newest first; `next` is the `before` cursor of the next page (null: last). */
export interface SearchResults {
  results: SearchResult[];
  total: number;
  totalIsLowerBound: boolean;
  next: Id | null;
}
