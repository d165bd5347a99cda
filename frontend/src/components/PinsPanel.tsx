import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useRef } from 'react';
import { qk } from '../api/queryKeys';
import type { Id, Message } from '../api/types';
import { useApi } from '../app/services';
import { displayName, useUser } from '../app/queries';
import type { ChatItem } from '../chat/messageStore';
import { formatStamp } from './MessageItem';
import { MessageContent } from './MessageContent';
import { useMessageExtras } from './messageExtras';
import { Avatar, Spinner } from './ui';
import { PinIcon } from './PinIcon';

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

function PinnedItem({ m, canPin, onJump, onUnpin }: { m: Message; canPin: boolean; onJump: () => void; onUnpin: () => void }) {
  const u = useUser(m.senderId);
  const name = displayName(u);
  return (
    <li className="pinned-item" data-testid="pinned-item" data-message-id={m.id}>
      <div className="pinned-head">
        <Avatar user={u} size={24} name={name} />
        <span className="message-author">{name}</span>
        <time className="message-time" dateTime={m.timestamp}>
          {formatStamp(m.timestamp)}
        </time>
      </div>
      <div className="pinned-content">
        <MessageContent content={m.content} />
      </div>
      <div className="pinned-actions">
        <button type="button" className="link-button" onClick={onJump} aria-label={`Jump to the message by ${name}`} data-testid="pinned-jump">
          Jump
        </button>
        {canPin && (
          <button type="button" className="link-button danger" onClick={onUnpin} aria-label={`Unpin the message by ${name}`} data-testid="pinned-unpin">
            Unpin
          </button>
        )}
      </div>
    </li>
  );
}

/**
 * The pinned-messages panel: a complementary region beside the messages. Focus moves to it when it opens and back to
 * the header's pin button when it closes (× or Esc).
 */
export function PinsPanel({ channelId, onClose }: { channelId: Id; onClose: () => void }) {
  const pins = usePins(channelId);
  const extras = useMessageExtras();
  const titleId = useId();
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  // Esc anywhere in the panel closes it (focus then goes back to the header's pin button).
  useEffect(() => {
    const el = ref.current;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.stopPropagation();
      onClose();
    };
    el?.addEventListener('keydown', onKey);
    return () => el?.removeEventListener('keydown', onKey);
  }, [onClose]);
  const list = pins.data?.messages ?? [];
  return (
    <aside
      ref={ref}
      className="pins-panel"
      aria-labelledby={titleId}
      tabIndex={-1}
      data-testid="pins-panel"
    >
      <header className="pins-header">
        <h2 id={titleId}>Pinned messages</h2>
        <button type="button" className="icon-button small" aria-label="Close pinned messages" onClick={onClose} data-testid="pins-close">
          ×
        </button>
      </header>
      {pins.isPending ? (
        <Spinner label="Loading pinned messages" />
      ) : pins.isError ? (
        <p className="muted" role="alert">
          Couldn't load pinned messages.
        </p>
      ) : list.length === 0 ? (
        <p className="muted pins-empty" data-testid="pins-empty">
          This channel doesn't have any pinned messages yet.
        </p>
      ) : (
        <ul className="pins-list" aria-label="Pinned messages">
          {list.map((m) => (
            <PinnedItem
              key={m.id}
              m={m}
              canPin={!!extras?.canPin}
              onJump={() => extras?.jumpTo(m.id)}
              onUnpin={() => extras?.setPinned(m.id, false)}
            />
          ))}
        </ul>
      )}
    </aside>
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
