// Blocks and DM privacy (GET/PUT/DELETE /api/me/blocks, GET/PUT /api/me/privacy), and the small pure helpers the
// invite and ban screens use.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id, Invite, Privacy, User, UsersPage } from '../api/types';
import { useApi } from './services';

/** The users I block (empty until loaded). */
export function useBlocked(): User[] {
  const api = useApi();
  const q = useQuery({ queryKey: qk.blocked, queryFn: () => api.blocked(), staleTime: 5 * 60_000 });
  return q.data?.users ?? [];
}

export function useIsBlocked(userId: Id | undefined): boolean {
  const blocked = useBlocked();
  return !!userId && blocked.some((u) => u.id === userId);
}

/** Blocks or unblocks a user; the cached list follows at once and is refetched after. */
export function useSetBlocked(onError?: (e: unknown) => void) {
  const api = useApi();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ user, block }: { user: User; block: boolean }) => (block ? api.block(user.id) : api.unblock(user.id)),
    onSuccess: (_r, { user, block }) => {
      qc.setQueryData<UsersPage>(qk.blocked, (d) => {
        const rest = (d?.users ?? []).filter((u) => u.id !== user.id);
        return { users: block ? [user, ...rest] : rest };
      });
      void qc.invalidateQueries({ queryKey: qk.blocked });
    },
    onError,
  });
}

export function usePrivacy() {
  const api = useApi();
  return useQuery({ queryKey: qk.privacy, queryFn: () => api.privacy(), staleTime: 5 * 60_000 });
}

export function useSavePrivacy(onError?: (e: unknown) => void) {
  const api = useApi();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (p: Privacy) => api.savePrivacy(p),
    onSuccess: (p) => qc.setQueryData(qk.privacy, p),
    onError,
  });
}

/** Expiry choices of the invite dialog (seconds; 0 = never), Discord's list. */
export const INVITE_EXPIRY = [
  { label: '30 minutes', value: 1800 },
  { label: '1 hour', value: 3600 },
  { label: '6 hours', value: 6 * 3600 },
  { label: '12 hours', value: 12 * 3600 },
  { label: '1 day', value: 86400 },
  { label: '7 days', value: 7 * 86400 },
  { label: 'Never', value: 0 },
] as const;
export const DEFAULT_INVITE_EXPIRY = 7 * 86400;
export const INVITE_USES = [0, 1, 5, 10, 25, 50, 100] as const;

export type InviteState = 'active' | 'expired' | 'used up';

export function inviteState(inv: Pick<Invite, 'expiresAt' | 'maxUses' | 'uses'>, now = Date.now()): InviteState {
  if (inv.expiresAt && Date.parse(inv.expiresAt) <= now) return 'expired';
  if (inv.maxUses !== null && inv.uses >= inv.maxUses) return 'used up';
  return 'active';
}

/** "never", "in 3 days", "in 5 hours", "in 12 minutes", or "expired". */
export function expiresIn(expiresAt: string | null, now = Date.now()): string {
  if (!expiresAt) return 'never';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'expired';
  const min = Math.ceil(ms / 60_000);
  if (min < 60) return `in ${min} minute${min === 1 ? '' : 's'}`;
  const h = Math.round(min / 60);
  if (h < 48) return `in ${h} hour${h === 1 ? '' : 's'}`;
  const d = Math.round(h / 24);
  return `in ${d} days`;
}

/** "3", or "3 / 10" with a limit. */
export function usesLabel(inv: Pick<Invite, 'maxUses' | 'uses'>): string {
  return inv.maxUses === null ? String(inv.uses) : `${inv.uses} / ${inv.maxUses}`;
}
