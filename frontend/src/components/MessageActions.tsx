// What a message draws only after an interaction: its hover toolbar, its edit box (Up arrow, or Edit), its open
// actions menu and the composer's "Replying to" bar (Reply). A lazy part of the chat screen (components/lazy.tsx),
// prefetched after the first paint; the edit box and the menu take the focus when they mount, so a key pressed
// before the chunk arrived takes effect when it does.
import { useEffect, useRef, useState, type KeyboardEvent, type RefObject } from 'react';
import type { Id } from '../api/types';
import { displayName, useUser } from '../app/queries';
import type { MessageAction } from './MessageItem';
import { PinIcon } from './PinIcon';

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

/** A message's mouse shortcuts (react, reply, pin, edit, delete), shown on hover; out of the Tab order (the
 *  keyboard way is the "More actions" menu, which MessageItem keeps in the first load). */
export function MessageToolbar({
  canReact,
  canReply,
  canPin,
  canAct,
  pinned,
  onReact,
  onReply,
  onPin,
  onEdit,
  onDelete,
}: {
  canReact: boolean;
  canReply: boolean;
  canPin: boolean;
  canAct: boolean;
  pinned: boolean;
  onReact: (anchor: HTMLElement) => void;
  onReply: () => void;
  onPin: () => void;
  onEdit: () => void;
  onDelete: (skipConfirm: boolean) => void;
}) {
  return (
    <>
      {canReact && (
        <button
          type="button"
          className="icon-button small"
          aria-label="Add reaction"
          title="Add reaction"
          tabIndex={-1}
          onClick={(e) => onReact(e.currentTarget)}
          data-testid="add-reaction-button"
        >
          ☺
        </button>
      )}
      {canReply && (
        <button
          type="button"
          className="icon-button small"
          aria-label="Reply"
          title="Reply"
          tabIndex={-1}
          onClick={onReply}
          data-testid="reply-button"
        >
          ↩
        </button>
      )}
      {canPin && (
        <button
          type="button"
          className="icon-button small"
          aria-label={pinned ? 'Unpin message' : 'Pin message'}
          title={pinned ? 'Unpin' : 'Pin'}
          tabIndex={-1}
          onClick={onPin}
          data-testid="pin-button"
        >
          <PinIcon size={16} />
        </button>
      )}
      {canAct && (
        <>
          <button
            type="button"
            className="icon-button small"
            aria-label="Edit message"
            title="Edit"
            tabIndex={-1}
            onClick={onEdit}
            data-testid="edit-message-button"
          >
            ✎
          </button>
          <button
            type="button"
            className="icon-button small danger"
            aria-label="Delete message"
            title="Delete (shift-click to skip confirmation)"
            tabIndex={-1}
            onClick={(e) => onDelete(e.shiftKey)}
            data-testid="delete-message-button"
          >
            🗑
          </button>
        </>
      )}
    </>
  );
}

/** "Replying to <name>" above the composer; × (or Esc in the composer) cancels. */
export function ReplyBar({ senderId, onCancel }: { senderId: Id; onCancel: () => void }) {
  const u = useUser(senderId);
  return (
    <div className="reply-bar" data-testid="reply-bar" role="status">
      <span>
        Replying to <strong>{displayName(u)}</strong>
      </span>
      <button type="button" className="icon-button small" aria-label="Cancel reply" title="Cancel reply (Esc)" onClick={onCancel} data-testid="reply-cancel">
        ×
      </button>
    </div>
  );
}
