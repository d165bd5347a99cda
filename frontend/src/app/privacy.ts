// Blocking and unblocking (PUT/DELETE /api/me/blocks) and DM privacy (GET/PUT /api/me/privacy); moved out of
// app/safety.ts so that only the lazy parts that use them carry them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Privacy, User, UsersPage } from '../api/types';
import { useApi } from './services';

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
