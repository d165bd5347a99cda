// Notification settings (GET/PUT /api/me/settings): read through React Query, saved whole and optimistically.
// Another tab's change arrives as settings:update (realtime.ts writes it into the same cache entry).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef } from 'react';
import { qk } from '../api/queryKeys';
import type { ChosenStatus, Id, NotificationSettings } from '../api/types';
import { DEFAULT_SETTINGS, isChannelMuted, normalizeSettings, toggleId, type Place } from '../chat/notify';
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

/** Saves a change (a function of the current settings): shown at once, rolled back if the server refuses. */
export function useSaveSettings(onError?: (e: unknown) => void) {
  const api = useApi();
  const qc = useQueryClient();
  const seq = useRef(0);
  const m = useMutation({
    mutationFn: async (next: NotificationSettings) => {
      const mine = ++seq.current;
      const stored = normalizeSettings(await api.saveSettings(next));
      // A later save is in flight: its answer wins.
      if (mine === seq.current) qc.setQueryData(qk.settings, stored);
      return stored;
    },
    onError: (e, _next, ctx: { prev?: NotificationSettings } | undefined) => {
      if (ctx?.prev) qc.setQueryData(qk.settings, ctx.prev);
      onError?.(e);
    },
    onMutate: (next) => {
      const prev = qc.getQueryData<NotificationSettings>(qk.settings);
      qc.setQueryData(qk.settings, next);
      return { prev };
    },
  });
  return (change: (s: NotificationSettings) => NotificationSettings) => {
    const cur = normalizeSettings(qc.getQueryData<NotificationSettings>(qk.settings) ?? DEFAULT_SETTINGS);
    const next = change(cur);
    if (next !== cur) m.mutate(next);
  };
}

export function useChannelMuted(channelId: Id, place: Place | undefined): boolean {
  return isChannelMuted(useNotificationSettings(), channelId, place);
}

export { toggleId };
