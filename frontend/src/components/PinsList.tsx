// The pinned-messages panel, a chunk of its own (components/lazy.tsx): loaded when first opened.
import { useEffect, useId, useRef } from 'react';
import type { Id, Message } from '../api/types';
import { displayName, useUser } from '../app/queries';
import { formatStamp } from './MessageItem';
import { MessageContent } from './MessageContent';
import { shownText } from '../chat/plaintexts';
import { useMessageExtras } from './messageExtras';
import { usePins } from './PinsPanel';
import { Avatar, Spinner } from './ui';

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
        <MessageContent content={m.encrypted ? shownText(m) : m.content} />
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
