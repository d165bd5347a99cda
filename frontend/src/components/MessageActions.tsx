// What a message draws only after an interaction: its edit box (Up arrow, or Edit) and its open actions menu. A lazy
// part of the chat screen (components/lazy.tsx), prefetched after the first paint; each takes the focus when it
// mounts, so a key pressed before the chunk arrived takes effect as soon as it does.
import { useEffect, useRef, useState, type KeyboardEvent, type RefObject } from 'react';
import type { MessageAction } from './MessageItem';

export function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (s: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(initial);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      onSave(value);
    }
  };
  return (
    <div className="edit-box">
      <textarea
        ref={ref}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={onKey}
        aria-label="Edit message"
        data-testid="edit-input"
        rows={Math.min(8, value.split('\n').length)}
      />
      <div className="edit-hint small muted">
        escape to{' '}
        <button type="button" className="link-button" onClick={onCancel}>
          cancel
        </button>{' '}
        • enter to{' '}
        <button type="button" className="link-button" onClick={() => onSave(value)} data-testid="edit-save">
          save
        </button>
      </div>
    </div>
  );
}

/** The open "More actions" menu (MessageItem's MessageMenu owns the button and the open state). */
export function MessageMenuList({
  id,
  actions,
  active,
  onActive,
  onClose,
  onLeave,
  buttonRef,
}: {
  id: string;
  actions: MessageAction[];
  active: number;
  onActive: (i: number) => void;
  /** Closes and gives the focus back to the button. */
  onClose: () => void;
  /** Closes as the focus moves elsewhere. */
  onLeave: () => void;
  buttonRef: RefObject<HTMLButtonElement | null>;
}) {
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  const n = actions.length;
  useEffect(() => {
    items.current[active]?.focus();
  }, [active]);
  const onMenuKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const move = { ArrowDown: (active + 1) % n, ArrowUp: (active - 1 + n) % n, Home: 0, End: n - 1 }[e.key];
    if (move !== undefined) {
      e.preventDefault();
      onActive(move);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onClose();
    } else if (e.key === 'Tab') {
      onLeave();
    }
  };
  return (
    <div
      id={id}
      role="menu"
      aria-label="Message actions"
      tabIndex={-1}
      className="menu message-menu"
      onKeyDown={onMenuKey}
      onBlur={(e) => {
        const to = e.relatedTarget as Node | null;
        if (!e.currentTarget.contains(to) && to !== buttonRef.current) onLeave();
      }}
      data-testid="message-menu"
    >
      {actions.map((a, i) => (
        <button
          key={a.testId}
          ref={(el) => {
            items.current[i] = el;
          }}
          type="button"
          role="menuitem"
          tabIndex={i === active ? 0 : -1}
          className={`menu-item${a.danger ? ' danger' : ''}`}
          onClick={() => {
            onClose();
            a.run();
          }}
          data-testid={a.testId}
        >
          {a.label}
        </button>
      ))}
    </div>
  );
}
