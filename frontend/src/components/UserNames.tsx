// Names fetched per user id for text that the first paint does not draw: who reacted (a reaction chip's tooltip,
// shown on hover, focus or a long press) and who is typing. A lazy chunk (components/lazy.tsx) so that TanStack
// Query's useQueries stays out of the chat screen's first load.
import { useQueries } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id, Reaction, User } from '../api/types';
import { displayName } from '../app/queries';
import { useApi, useSession } from '../app/services';
import { reactedText } from '../chat/reactions';
import { formatTyping } from '../chat/typingText';

function useUsers(ids: Id[], skip?: Id) {
  const api = useApi();
  return useQueries({
    queries: ids.map((id) => ({ queryKey: qk.user(id), queryFn: () => api.user(id), enabled: id !== skip, staleTime: 10 * 60_000 })),
  });
}

export function ReactedBy({ r }: { r: Reaction }) {
  const meId = useSession()?.user.id;
  const users = useUsers(r.userIds, meId);
  const names = r.userIds.map((id, i) => (id === meId ? 'You' : displayName(users[i].data as User | undefined, 'Someone')));
  return <>{reactedText(names, r.count, r.emoji)}</>;
}

/** "Ann is typing…": the dots and the names (the live region around it is drawn at first paint). */
export function TypingNames({ ids }: { ids: Id[] }) {
  const users = useUsers(ids);
  const text = formatTyping(users.map((q) => displayName(q.data, 'Someone')));
  if (!text) return null;
  return (
    <>
      <span className="typing-dots" aria-hidden="true">
        <i />
        <i />
        <i />
      </span>
      <span>{text}</span>
    </>
  );
}
