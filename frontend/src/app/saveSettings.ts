// Saving the notification settings (PUT /api/me/settings), optimistically. Apart from app/settings.ts (reading
// them) because only lazy parts save (the server menu, the notification controls, the user settings): TanStack
// Query's mutation hook stays out of the chat screen's first load with it.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef } from 'react';
import { qk } from '../api/queryKeys';
import type { NotificationSettings } from '../api/types';
import { DEFAULT_SETTINGS, normalizeSettings } from '../chat/notify';
import { useApi } from './services';

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
