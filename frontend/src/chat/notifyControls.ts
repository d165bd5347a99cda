// What the notification controls change and decide: a setting list's toggle (the mute buttons, the server menu)
// and whether to prompt for desktop notifications. Pure. Only lazy parts use them (Notifications.tsx,
// ServerMenu.tsx), so they stay out of the chat screen's first load; reading the settings is chat/notify.ts.
import type { Id, NotificationSettings } from '../api/types';

/** The server's limit per list. */
export const MAX_SETTING_IDS = 500;

type IdList = 'mutedChannels' | 'mutedServers' | 'suppressEveryone';

/** The settings with `id` added to or removed from one list (the oldest entries give way past the limit). */
export function toggleId(s: NotificationSettings, list: IdList, id: Id, on: boolean): NotificationSettings {
  const cur = s[list];
  const has = cur.includes(id);
  if (has === on) return s;
  const next = on ? [...cur, id].slice(-MAX_SETTING_IDS) : cur.filter((x) => x !== id);
  return { ...s, [list]: next };
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
