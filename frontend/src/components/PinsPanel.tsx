import { useQuery } from '@tanstack/react-query';
import { qk } from '../api/queryKeys';
import type { Id } from '../api/types';
import { useApi } from '../app/services';
import { displayName, useUser } from '../app/queries';
import type { ChatItem } from '../chat/messageStore';
import { formatStamp } from './MessageItem';
import { useMessageExtras } from './messageExtras';
import { PinIcon } from './PinIcon';

// The pin button and the pin system line; the panel itself is PinsList.tsx (loaded lazily).

/** The channel's pinned messages (most recently pinned first), kept live by pin:update (see realtime.ts). */
export function usePins(channelId: Id) {
  const api = useApi();
  return useQuery({ queryKey: qk.pins(channelId), queryFn: () => api.pins(channelId), staleTime: Infinity });
}

export function PinsButton({ open, onToggle, buttonRef }: { open: boolean; onToggle: () => void; buttonRef?: React.Ref<HTMLButtonElement> }) {
  return (
    <button
      ref={buttonRef}
      type="button"
      className={`icon-button pins-toggle${open ? ' active' : ''}`}
      aria-label="Pinned messages"
      title="Pinned messages"
      aria-expanded={open}
      onClick={onToggle}
      data-testid="pins-button"
    >
      <PinIcon />
    </button>
  );
}

const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

/** The system line of a `type: "pin"` message: "📌 <name> pinned a message. See all pinned messages." */
export function PinSystemLine({ item }: { item: ChatItem }) {
  const u = useUser(item.senderId);
  const extras = useMessageExtras();
  const when = new Date(item.timestamp);
  return (
    <div className="message-wrap">
      {item.dayStart && !Number.isNaN(when.getTime()) && (
        <div className="day-divider" role="separator" aria-label={dayFmt.format(when)}>
          <span>{dayFmt.format(when)}</span>
        </div>
      )}
      <div className="system-line" data-testid="pin-system-line" data-message-id={item.id ?? ''} data-pinned-id={item.replyTo ?? ''}>
        <span aria-hidden="true">📌</span> <strong>{displayName(u)}</strong> pinned{' '}
        <button type="button" className="link-button" onClick={() => item.replyTo && extras?.jumpTo(item.replyTo)} data-testid="pin-line-jump">
          a message
        </button>
        .{' '}
        <button type="button" className="link-button" onClick={() => extras?.openPins()} data-testid="pin-line-see-all">
          See all pinned messages.
        </button>{' '}
        <time className="message-time" dateTime={item.timestamp}>
          {formatStamp(item.timestamp)}
        </time>
      </div>
    </div>
  );
}
