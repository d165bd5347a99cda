// Notification settings and what they mean for badges: normalising, muting. Pure. Changing them and the prompt's
// decision are chat/notifyControls.ts (only lazy parts use them). What a received
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
