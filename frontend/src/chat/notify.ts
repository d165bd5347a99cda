// Notification settings and what they mean for badges: normalising, muting, the prompt. Pure. What a received
// message should do (mention, notify, sound) is chat/incoming.ts.
import type { Id, NotificationSettings } from '../api/types';
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
