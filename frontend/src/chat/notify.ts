// What a received message should do besides showing up: count as a mention, badge, notify (desktop), play a sound.
// Pure; realtime/realtime.ts and components/Notifications.tsx apply the answers.
import type { Id, Message, NotificationSettings } from '../api/types';
import { mentionsMe } from './mentions';
import { isChosenStatus } from './status';

/** Used until GET /api/me/settings answers (or when it cannot): the server's defaults. */
export const DEFAULT_SETTINGS: NotificationSettings = {
  mutedChannels: [],
  mutedServers: [],
  suppressEveryone: [],
  notifySound: true,
  desktop: 'mentions',
  status: 'online',
};

/** The server's limit per list. */
export const MAX_SETTING_IDS = 500;

/** A settings object from the wire, with every field present and of the right type. */
export function normalizeSettings(s: Partial<NotificationSettings> | null | undefined): NotificationSettings {
  const ids = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    mutedChannels: ids(s?.mutedChannels),
    mutedServers: ids(s?.mutedServers),
    suppressEveryone: ids(s?.suppressEveryone),
    notifySound: typeof s?.notifySound === 'boolean' ? s.notifySound : DEFAULT_SETTINGS.notifySound,
    desktop: s?.desktop === 'all' || s?.desktop === 'mentions' || s?.desktop === 'none' ? s.desktop : DEFAULT_SETTINGS.desktop,
    status: isChosenStatus(s?.status) ? s.status : DEFAULT_SETTINGS.status,
  };
}

type IdList = 'mutedChannels' | 'mutedServers' | 'suppressEveryone';

/** The settings with `id` added to or removed from one list (the oldest entries give way past the limit). */
export function toggleId(s: NotificationSettings, list: IdList, id: Id, on: boolean): NotificationSettings {
  const cur = s[list];
  const has = cur.includes(id);
  if (has === on) return s;
  const next = on ? [...cur, id].slice(-MAX_SETTING_IDS) : cur.filter((x) => x !== id);
  return { ...s, [list]: next };
}

/** Where a message was sent, as far as notifications care. Unknown channels count as DMs (a DM just opened). */
export type Place = { type: 'dm' } | { type: 'text'; serverId: Id };

export function isChannelMuted(s: NotificationSettings, channelId: Id, place: Place | undefined): boolean {
  if (s.mutedChannels.includes(channelId)) return true;
  return place?.type === 'text' && s.mutedServers.includes(place.serverId);
}

export function isEveryoneSuppressed(s: NotificationSettings, place: Place | undefined): boolean {
  return place?.type === 'text' && s.suppressEveryone.includes(place.serverId);
}

export interface IncomingDecision {
  /** Counts as a mention of me (raises the channel's mentionCount when I am not looking at it). */
  mention: boolean;
  /** The channel (or its server) is muted: no unread badge, no notification, unless it mentions me. */
  muted: boolean;
  /** Worth a desktop notification while the tab is hidden (permission permitting). */
  notify: boolean;
  /** Worth the notification sound. */
  sound: boolean;
}

const NOTHING: IncomingDecision = { mention: false, muted: false, notify: false, sound: false };

/**
 * The decision for one received message. `viewing` is true when the message's channel is open in a visible tab:
 * then nothing notifies or sounds. `hidden` is the tab's visibility: desktop notifications only while hidden.
 * Levels: desktop "all" = every message of an unmuted channel, and mentions; "mentions" = mentions and DMs of
 * unmuted conversations; "none" = nothing (the sound follows the same level).
 */
export function decideIncoming(args: {
  message: Pick<Message, 'channelId' | 'senderId' | 'content' | 'mentions' | 'mentionEveryone'>;
  meId: Id;
  place: Place | undefined;
  settings: NotificationSettings;
  viewing: boolean;
  hidden: boolean;
  /** The sender is someone I block: their messages neither badge, mention nor notify. */
  blocked?: boolean;
}): IncomingDecision {
  const { message: m, meId, place, settings: s, viewing, hidden, blocked } = args;
  if (!m || m.senderId === meId || blocked) return NOTHING;
  const dm = !place || place.type === 'dm';
  const mention = mentionsMe(m, meId, isEveryoneSuppressed(s, place));
  const muted = isChannelMuted(s, m.channelId, place);
  // Do not disturb: badges and mentions as usual, but nothing pops up or sounds.
  const wanted =
    s.desktop === 'none' || s.status === 'dnd' ? false : mention || (!muted && (s.desktop === 'all' || dm));
  return {
    mention,
    muted,
    notify: wanted && hidden && !viewing,
    sound: wanted && s.notifySound && !viewing,
  };
}

/** Whether a channel shows its unread badge: not when muted, unless it holds unread mentions. */
export function showsUnread(c: { id: Id; unreadCount: number; mentionCount: number }, muted: boolean): boolean {
  return c.mentionCount > 0 || (!muted && c.unreadCount > 0);
}

/** localStorage key: the user answered "Not now" to the notification prompt. */
export const PROMPT_DISMISSED_KEY = 'parley.notifyPrompt';

/**
 * Whether to show the "enable desktop notifications" prompt: the browser can notify and has not been asked yet,
 * notifications are not switched off, the user did not dismiss the prompt, and they have been using the app for a
 * moment (never on first load: `engaged` turns true after their first message or half a minute).
 */
export function shouldPrompt(a: {
  supported: boolean;
  permission: NotificationPermission | undefined;
  desktop: NotificationSettings['desktop'];
  dismissed: boolean;
  engaged: boolean;
}): boolean {
  return a.supported && a.permission === 'default' && a.desktop !== 'none' && !a.dismissed && a.engaged;
}
