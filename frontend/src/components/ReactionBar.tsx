// Reactions under a message: one chip per emoji (emoji + count, pressed when I reacted; click, Enter or Space
// toggles), a tooltip naming who reacted (hover, keyboard focus, or a long press on touch screens), and a
// button that opens the picker.
import { memo, useId, useRef, useState } from 'react';
import type { Reaction } from '../api/types';
import { ReactedBy } from './lazy';

const LONG_PRESS_MS = 500;

function Chip({ r, onToggle }: { r: Reaction; onToggle: (emoji: string, add: boolean) => void }) {
  const tipId = useId();
  const [show, setShow] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const longPressed = useRef(false);
  const cancelPress = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
  };
  return (
    <span className="reaction-wrap" onMouseEnter={() => setShow(true)} onMouseLeave={() => setShow(false)}>
      <button
        type="button"
        className={`reaction${r.me ? ' mine' : ''}`}
        aria-pressed={r.me}
        aria-label={`${r.emoji} ${r.count} reaction${r.count === 1 ? '' : 's'}${r.me ? ', including yours' : ''}`}
        aria-describedby={tipId}
        data-testid="reaction"
        data-emoji={r.emoji}
        data-count={r.count}
        data-me={r.me ? 'true' : 'false'}
        onFocus={() => setShow(true)}
        onBlur={() => setShow(false)}
        onPointerDown={(e) => {
          if (e.pointerType !== 'touch') return;
          longPressed.current = false;
          cancelPress();
          timer.current = setTimeout(() => {
            longPressed.current = true;
            setShow(true);
          }, LONG_PRESS_MS);
        }}
        onPointerUp={cancelPress}
        onPointerCancel={cancelPress}
        onContextMenu={(e) => {
          if (longPressed.current) e.preventDefault();
        }}
        onClick={() => {
          if (longPressed.current) {
            longPressed.current = false; // the long press showed who reacted; it does not toggle
            return;
          }
          onToggle(r.emoji, !r.me);
        }}
      >
        <span className="reaction-emoji" aria-hidden="true">
          {r.emoji}
        </span>
        <span className="reaction-count" aria-hidden="true">
          {r.count}
        </span>
      </button>
      <span id={tipId} role="tooltip" className={`reaction-tooltip${show ? ' visible' : ''}`} data-testid="reaction-tooltip">
        {/* Who reacted: a lazy part (prefetched after the first paint), the count until it is here. */}
        {show ? <ReactedBy r={r} /> : `${r.count} reacted with ${r.emoji}`}
      </span>
    </span>
  );
}

export interface ReactionBarProps {
  reactions: Reaction[] | undefined;
  onToggle: (emoji: string, add: boolean) => void;
  /** Opens the picker next to the given button. */
  onAdd: (anchor: HTMLElement) => void;
}

export const ReactionBar = memo(function ReactionBar({ reactions, onToggle, onAdd }: ReactionBarProps) {
  if (!reactions || reactions.length === 0) return null;
  return (
    <div className="reaction-bar" role="group" aria-label="Reactions" data-testid="reaction-bar">
      {reactions.map((r) => (
        <Chip key={r.emoji} r={r} onToggle={onToggle} />
      ))}
      <button
        type="button"
        className="reaction add-reaction"
        aria-label="Add reaction"
        title="Add reaction"
        onClick={(e) => onAdd(e.currentTarget)}
        data-testid="reaction-bar-add"
      >
        <span aria-hidden="true">☺+</span>
      </button>
    </div>
  );
});
