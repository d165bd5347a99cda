import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Id } from '../api/types';
import {
  applyCompletion,
  findMentionQuery,
  matchChannels,
  matchMembers,
  type MemberCandidate,
  type MentionOption,
} from '../chat/mentions';
import { loadDraft, saveDraft } from '../chat/drafts';
import { TypingEmitter } from '../chat/typing';
import { MAX_MESSAGE_LENGTH } from '../realtime/realtime';

/** What `@` and `#` complete from: the people who can read the channel, the server's channels. */
export interface MentionSource {
  members: MemberCandidate[];
  channels: { id: Id; name: string }[];
  /** Offer @everyone / @here (server owners and admins; anyone in a DM). */
  allowEveryone: boolean;
}

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
  /** Enables the `@member` / `#channel` autocomplete. */
  mentionSource?: MentionSource;
}

export function Composer({
  channelId,
  userId = 'anon',
  placeholder,
  onSend,
  onTyping,
  onEditLast,
  onEscape,
  disabled,
  mentionSource,
}: ComposerProps) {
  const [value, setValue] = useState(() => loadDraft(userId, channelId));
  const [prevChannel, setPrevChannel] = useState(channelId);
  const ref = useRef<HTMLTextAreaElement>(null);
  const onTypingRef = useRef(onTyping);
  useLayoutEffect(() => {
    onTypingRef.current = onTyping;
  });
  const typing = useRef<TypingEmitter | null>(null);

  // Autocomplete: the `@…` / `#…` word at the caret, its matches, the highlighted one. Esc closes the list for
  // that word (it opens again for the next one).
  const [caret, setCaret] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const pendingCaret = useRef<number | null>(null);
  const listId = useId();

  if (prevChannel !== channelId) {
    setPrevChannel(channelId);
    setValue(loadDraft(userId, channelId));
    setCaret(null);
  }

  const query = mentionSource && caret !== null ? findMentionQuery(value, caret) : null;
  const options: MentionOption[] = useMemo(() => {
    if (!query || !mentionSource) return [];
    return query.trigger === '@'
      ? matchMembers(mentionSource.members, query.query, { allowEveryone: mentionSource.allowEveryone })
      : matchChannels(mentionSource.channels, query.query);
  }, [query?.trigger, query?.query, mentionSource]); // eslint-disable-line react-hooks/exhaustive-deps
  const open = !!query && options.length > 0 && closedAt !== query.start;
  const activeIndex = Math.min(active, Math.max(0, options.length - 1));
  const optionId = (i: number) => `${listId}-opt-${i}`;

  const queryKey = query ? `${query.trigger}${query.start}:${query.query}` : '';
  const [prevQueryKey, setPrevQueryKey] = useState(queryKey);
  if (prevQueryKey !== queryKey) {
    setPrevQueryKey(queryKey);
    setActive(0);
    if (!query || query.start !== closedAt) setClosedAt(null);
  }

  const syncCaret = () => {
    const el = ref.current;
    if (el) setCaret(el.selectionStart === el.selectionEnd ? el.selectionStart : null);
  };

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
    if (pendingCaret.current !== null) {
      el.setSelectionRange(pendingCaret.current, pendingCaret.current);
      pendingCaret.current = null;
    }
  }, [value]);

  const pick = (o: MentionOption) => {
    if (!query) return;
    const next = applyCompletion(value, query, o.insert);
    pendingCaret.current = next.caret;
    update(next.value);
    setCaret(next.caret);
    ref.current?.focus();
  };

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
    if (open && !e.nativeEvent.isComposing) {
      const n = options.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
        return;
      }
      if ((e.key === 'Enter' && !e.shiftKey) || (e.key === 'Tab' && !e.shiftKey)) {
        e.preventDefault();
        pick(options[activeIndex]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        setClosedAt(query!.start);
        return;
      }
    }
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
      {open && (
        <div className="mention-popup" data-testid="mention-popup">
          <div className="mention-popup-title" aria-hidden="true">
            {query!.trigger === '@' ? 'Members' : 'Text channels'}
          </div>
          <ul id={listId} role="listbox" aria-label={query!.trigger === '@' ? 'Members' : 'Channels'} className="mention-options">
            {options.map((o, i) => (
              // eslint-disable-next-line jsx-a11y/click-events-have-key-events -- the keyboard picks in the textarea (↑/↓, Enter/Tab, aria-activedescendant); a click is the mouse way
              <li
                key={`${o.kind}:${o.id}`}
                id={optionId(i)}
                role="option"
                aria-selected={i === activeIndex}
                className={`mention-option${i === activeIndex ? ' active' : ''}`}
                onMouseDown={(e) => e.preventDefault()}
                onMouseEnter={() => setActive(i)}
                onClick={() => pick(o)}
                data-testid="mention-option"
                data-value={o.insert}
              >
                {o.kind === 'user' && (
                  <>
                    <span className="mention-option-name">{o.displayName}</span>
                    <span className="mention-option-sub">@{o.username}</span>
                  </>
                )}
                {o.kind === 'special' && (
                  <>
                    <span className="mention-option-name">@{o.id}</span>
                    <span className="mention-option-sub">{o.label}</span>
                  </>
                )}
                {o.kind === 'channel' && (
                  <span className="mention-option-name">
                    <span aria-hidden="true" className="hash">
                      #
                    </span>
                    {o.name}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className={`composer-box${tooLong ? ' too-long' : ''}`}>
        <div
          className="composer-combo"
          role={mentionSource ? 'combobox' : undefined}
          aria-label={mentionSource ? placeholder : undefined}
          aria-haspopup={mentionSource ? 'listbox' : undefined}
          aria-expanded={mentionSource ? open : undefined}
          aria-controls={mentionSource && open ? listId : undefined}
        >
          <textarea
            ref={ref}
            value={value}
            rows={1}
            placeholder={placeholder}
            aria-label={placeholder}
            aria-autocomplete={mentionSource ? 'list' : undefined}
            aria-controls={open ? listId : undefined}
            aria-activedescendant={open ? optionId(activeIndex) : undefined}
            onChange={(e) => {
              update(e.target.value);
              syncCaret();
            }}
            onSelect={syncCaret}
            onKeyDown={onKeyDown}
            onBlur={() => {
              setCaret(null);
              if (!value.trim()) typing.current?.stop();
            }}
            onFocus={syncCaret}
            disabled={disabled}
            data-testid="composer-input"
            data-autocomplete={open ? 'open' : 'closed'}
            enterKeyHint="send"
          />
        </div>
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
