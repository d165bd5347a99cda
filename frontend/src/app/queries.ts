import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { qk } from '../api/queryKeys';
import type { DMChannel, Id, Me, User } from '../api/types';
import { compareIds } from '../chat/ids';
import { seedUsers } from './cache';
import { useApi, useSession } from './services';
import { cleanName } from '../chat/bidi';

export function useServers() {
  const api = useApi();
  return useQuery({ queryKey: qk.servers, queryFn: () => api.servers() });
}

export function useServer(id: Id | undefined) {
  const api = useApi();
  const qc = useQueryClient();
  return useQuery({
    queryKey: qk.server(id ?? ''),
    queryFn: () => api.server(id!),
    enabled: !!id,
    initialData: () => qc.getQueryData<{ servers: { id: Id }[] }>(qk.servers)?.servers.find((s) => s.id === id) as never,
  });
}

export function useChannels(serverId: Id | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: qk.channels(serverId ?? ''),
    queryFn: () => api.channels(serverId!),
    enabled: !!serverId,
  });
}

export function useDMs() {
  const api = useApi();
  const qc = useQueryClient();
  const q = useQuery({ queryKey: qk.dms, queryFn: () => api.dms() });
  useEffect(() => {
    if (q.data) seedUsers(qc, q.data.channels.flatMap((c) => c.participants ?? []));
  }, [q.data, qc]);
  return q;
}

export function useMembers(serverId: Id | undefined) {
  const api = useApi();
  const qc = useQueryClient();
  const q = useInfiniteQuery({
    queryKey: qk.members(serverId ?? ''),
    queryFn: ({ pageParam }) => api.members(serverId!, pageParam),
    initialPageParam: undefined as Id | undefined,
    getNextPageParam: (last) => (last.hasMore && last.members.length ? last.members[last.members.length - 1].user.id : undefined),
    enabled: !!serverId,
  });
  useEffect(() => {
    if (q.data) seedUsers(qc, q.data.pages.flatMap((p) => p.members.map((m) => m.user)));
  }, [q.data, qc]);
  return q;
}

/** A user's public profile, from the cache (members, DM participants) or fetched once. */
export function useUser(id: Id | undefined): User | Me | undefined {
  const api = useApi();
  const session = useSession();
  const isMe = !!id && session?.user.id === id;
  const q = useQuery({
    queryKey: qk.user(id ?? ''),
    queryFn: () => api.user(id!),
    enabled: !!id && !isMe,
    staleTime: 10 * 60_000,
  });
  return isMe ? session!.user : q.data;
}

/** The name to show for a user: the display name without characters that could disguise it (chat/bidi.ts), else
 *  the username. Anyone can pick any display name, so where impersonation matters show the username too
 *  (usernameHint). */
export function displayName(u: Pick<User, 'displayName' | 'username'> | undefined | null, fallback = 'Unknown user'): string {
  if (!u) return fallback;
  return cleanName(u.displayName ?? '').trim() || u.username || fallback;
}

/** "@username" when the shown name is not simply the username, so two people with the same display name (or one
 *  posing as the other) can be told apart; null when it would repeat the name. */
export function usernameHint(u: Pick<User, 'displayName' | 'username'> | undefined | null): string | null {
  if (!u?.username) return null;
  return displayName(u).toLowerCase() === u.username.toLowerCase() ? null : `@${u.username}`;
}

export function dmTitle(c: DMChannel, meId: Id): string {
  const others = (c.participants ?? []).filter((p) => p.id !== meId);
  if (others.length === 0) return 'Just you';
  return others.map((u) => displayName(u)).join(', ');
}

export function dmOthers(c: DMChannel | undefined, meId: Id): User[] {
  return (c?.participants ?? []).filter((p) => p.id !== meId);
}

/** Most recent activity first. */
export function sortDMs(list: DMChannel[]): DMChannel[] {
  return list.slice().sort((a, b) => {
    const x = a.lastMessageId ?? a.id;
    const y = b.lastMessageId ?? b.id;
    return compareIds(y, x);
  });
}
