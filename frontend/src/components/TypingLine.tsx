import { useQueries } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id } from '../api/types';
import { displayName } from '../app/queries';
import { useApi } from '../app/services';
import { formatTyping } from '../chat/typing';
import { useTypingUsers } from '../realtime/RealtimeProvider';

export function TypingLine({ channelId }: { channelId: Id }) {
  const ids = useTypingUsers(channelId);
  const api = useApi();
  const users = useQueries({
    queries: ids.map((id) => ({ queryKey: qk.user(id), queryFn: () => api.user(id), staleTime: 10 * 60_000 })),
  });
  const names = users.map((q) => displayName(q.data, 'Someone'));
  const text = formatTyping(names);
  return (
    <div className="typing-line" aria-live="polite" data-testid="typing-indicator" data-count={ids.length}>
      {text && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          <span>{text}</span>
        </>
      )}
    </div>
  );
}
