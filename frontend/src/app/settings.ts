// Notification settings (GET /api/me/settings): read through React Query; saved whole and optimistically by
// app/saveSettings.ts. Another tab's change arrives as settings:update (realtime.ts writes it into the same cache entry).
import { useQuery } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { ChosenStatus, Id, NotificationSettings } from '../api/types';
import { DEFAULT_SETTINGS, isChannelMuted, normalizeSettings, type Place } from '../chat/notify';
import { useApi } from './services';

export function useNotificationSettings(): NotificationSettings {
  const api = useApi();
  const q = useQuery({
    queryKey: qk.settings,
    queryFn: async () => normalizeSettings(await api.settings()),
    staleTime: 5 * 60_000,
  });
  return q.data ?? DEFAULT_SETTINGS;
}

/** The chosen presence status once the settings are loaded (undefined before: the device's last choice holds). */
export function useStoredStatus(): ChosenStatus | undefined {
  const api = useApi();
  const q = useQuery({
    queryKey: qk.settings,
    queryFn: async () => normalizeSettings(await api.settings()),
    staleTime: 5 * 60_000,
  });
  return q.data?.status;
}

export function useChannelMuted(channelId: Id, place: Place | undefined): boolean {
  return isChannelMuted(useNotificationSettings(), channelId, place);
}

