// The users I block (GET /api/me/blocks), which the message list reads on the first paint. Blocking, unblocking
// and DM privacy are app/privacy.ts, the invite helpers app/invites.ts: only lazy parts use them.
import { useQuery } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id, User } from '../api/types';
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
