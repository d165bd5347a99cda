import type { Id } from '../api/types';
import { useTypingUsers } from '../realtime/RealtimeProvider';
import { TypingNames } from './lazy';

export function TypingLine({ channelId }: { channelId: Id }) {
  const ids = useTypingUsers(channelId);
  // The live region is always there (a region mounted late is not announced); its names are a lazy part.
  return (
    <div className="typing-line" aria-live="polite" data-testid="typing-indicator" data-count={ids.length}>
      {ids.length > 0 && <TypingNames ids={ids} />}
    </div>
  );
}
