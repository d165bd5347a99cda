import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Id } from '../api/types';
import { loadDraft, saveDraft } from '../chat/drafts';
import { TypingEmitter } from '../chat/typing';
import { MAX_MESSAGE_LENGTH } from '../realtime/realtime';

export interface ComposerProps {
  channelId: Id;
  /** Whose draft this is: drafts are kept per user and channel, across switches and reloads. */
  userId?: Id;
  placeholder: string;
  onSend: (content: string) => void;
  onTyping: (event: 'typing:start' | 'typing:stop') => void;
  /** Up arrow in an empty composer: edit the last own message. */
  onEditLast?: () => void;
  /** Esc: mark the channel read (as in Discord); the draft stays. */
  onEscape?: () => void;
  disabled?: boolean;
}

export function Composer({ channelId, userId = 'anon', placeholder, onSend, onTyping, onEditLast, onEscape, disabled }: ComposerProps) {
  const [value, setValue] = useState(() => loadDraft(userId, channelId));
  const [prevChannel, setPrevChannel] = useState(channelId);
  const ref = useRef<HTMLTextAreaElement>(null);
  const onTypingRef = useRef(onTyping);
  useLayoutEffect(() => {
    onTypingRef.current = onTyping;
  });
  const typing = useRef<TypingEmitter | null>(null);

  if (prevChannel !== channelId) {
    setPrevChannel(channelId);
    setValue(loadDraft(userId, channelId));
  }

  useEffect(() => {
    const t = new TypingEmitter((ev) => onTypingRef.current(ev));
    typing.current = t;
    // Focus for keyboard users; on touch screens that would pop the keyboard up on every navigation.
    if (!window.matchMedia?.('(pointer: coarse)').matches) ref.current?.focus();
    return () => t.stop();
  }, [channelId]);

  // Grow with the content, up to the CSS max-height.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
  }, [value]);

  const update = (v: string) => {
    setValue(v);
    saveDraft(userId, channelId, v);
    typing.current?.input(v);
  };

  const tooLong = value.length > MAX_MESSAGE_LENGTH;

  const send = () => {
    if (!value.trim() || tooLong || disabled) return;
    onSend(value);
    typing.current?.stop();
    setValue('');
    saveDraft(userId, channelId, '');
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'ArrowUp' && !value && onEditLast) {
      e.preventDefault();
      onEditLast();
    } else if (e.key === 'Escape' && onEscape) {
      // Never clears the draft: a stray Esc must not lose what someone typed (and Ctrl+Z could not bring it back).
      onEscape();
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <div className={`composer-box${tooLong ? ' too-long' : ''}`}>
        <textarea
          ref={ref}
          value={value}
          rows={1}
          placeholder={placeholder}
          aria-label={placeholder}
          onChange={(e) => update(e.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => !value.trim() && typing.current?.stop()}
          disabled={disabled}
          data-testid="composer-input"
          enterKeyHint="send"
        />
        {value.length > MAX_MESSAGE_LENGTH - 200 && (
          <span className={`char-count${tooLong ? ' over' : ''}`} aria-live="polite">
            {MAX_MESSAGE_LENGTH - value.length}
          </span>
        )}
        <button type="submit" className="send-button" aria-label="Send message" disabled={!value.trim() || tooLong || disabled} data-testid="composer-send">
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
            <path fill="currentColor" d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z" />
          </svg>
        </button>
      </div>
    </form>
  );
}
