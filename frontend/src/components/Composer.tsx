import { useEffect, useId, useImperativeHandle, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type Ref } from 'react';
import type { Attachment, Id, UploadLimits } from '../api/types';
import { DEFAULT_LIMITS } from '../api/files';
import { uploadsChunk } from './lazy';
import type { UploadItem } from './ComposerUploads';
import { MAX_MESSAGE_LENGTH } from '../api/rules.gen';
import type { MemberCandidate, MentionOption } from '../chat/autocomplete';
import { loadDraft, saveDraft } from '../chat/drafts';
import { TypingEmitter } from '../chat/typing';
import './attachments.css';

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
  /** Sends the text and the uploaded files (the text may be empty when there are files). */
  onSend: (content: string, attachments?: Attachment[]) => void;
  onTyping: (event: 'typing:start' | 'typing:stop') => void;
  /** Up arrow in an empty composer: edit the last own message. */
  onEditLast?: () => void;
  /** Esc: mark the channel read (as in Discord); the draft stays. */
  onEscape?: () => void;
  disabled?: boolean;
  /** Enables the `@member` / `#channel` autocomplete. */
  mentionSource?: MentionSource;
  /** Uploads a file to this channel: enables attaching (button, paste, drop through `handle`). */
  uploader?: Uploader;
  limits?: UploadLimits;
  /** Lets the channel view hand over files dropped anywhere on it. */
  handle?: Ref<ComposerHandle>;
}

/** Uploads one file, reporting progress (0..1); rejects with an Error whose message is shown. */
export type Uploader = (file: File, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<Attachment>;

export interface ComposerHandle {
  addFiles: (files: File[]) => void;
}


// The mention autocomplete (MentionOptions.tsx) is a chunk of its own, fetched when a composer with a mention
// source first mounts: the first paint does not need it, and until it is here `@` and `#` just type. Tests await
// loadAutocomplete() first, so that the composer has it from its first render.
type Autocomplete = typeof import('./MentionOptions');
let autocomplete: Autocomplete | null = null;
export const loadAutocomplete = () => import('./MentionOptions').then((m) => (autocomplete = m));

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
  uploader,
  limits = DEFAULT_LIMITS,
  handle,
}: ComposerProps) {
  const [uploads, setUploads] = useState<UploadItem[]>([]);
  const uploadsRef = useRef(uploads);
  useLayoutEffect(() => {
    uploadsRef.current = uploads;
  });
  const fileInput = useRef<HTMLInputElement>(null);
  const patchUpload = (key: string, patch: Partial<UploadItem>) => setUploads((us) => us.map((u) => (u.key === key ? { ...u, ...patch } : u)));
  const dropUpload = (key: string) =>
    setUploads((us) => {
      const u = us.find((x) => x.key === key);
      u?.abort?.abort();
      if (u?.thumb) URL.revokeObjectURL(u.thumb);
      return us.filter((x) => x.key !== key);
    });
  // Files dropped, pasted or picked before the upload code arrived (it is prefetched after the first paint) are held
  // here and handed over when it does, in order; another channel forgets them, as it cancels uploads in flight.
  const held = useRef<File[]>([]);
  const [attachError, setAttachError] = useState('');
  const addFiles = (files: File[]) => {
    if (!uploader || disabled || files.length === 0) return;
    const mod = uploadsChunk.now();
    if (mod) {
      const items = mod.startUploads(files, uploadsRef.current, limits, uploader, patchUpload);
      setUploads((us) => [...us, ...items]);
      return;
    }
    held.current.push(...files);
    uploadsChunk().then(
      () => {
        const waiting = held.current;
        held.current = [];
        addFilesLater.current(waiting);
      },
      () => setAttachError('Files cannot be attached: this part of Parley could not be loaded. Reload the page.'),
    );
  };
  const addFilesLater = useRef(addFiles);
  useLayoutEffect(() => {
    addFilesLater.current = addFiles;
  });
  useImperativeHandle(handle, () => ({ addFiles }));
  // Another channel: unsent uploads stay on the server until the collector removes them; in-flight ones stop.
  useEffect(
    () => () => {
      held.current = [];
      for (const u of uploadsRef.current) {
        u.abort?.abort();
        if (u.thumb) URL.revokeObjectURL(u.thumb);
      }
      setUploads([]);
    },
    [channelId],
  );
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
  const [ac, setAc] = useState(autocomplete);
  useEffect(() => {
    if (mentionSource && !ac) loadAutocomplete().then(setAc, () => undefined); // not loaded: no list, typing works
  }, [mentionSource, ac]);

  if (prevChannel !== channelId) {
    setPrevChannel(channelId);
    setValue(loadDraft(userId, channelId));
    setCaret(null);
  }

  const query = mentionSource && ac && caret !== null ? ac.findMentionQuery(value, caret) : null;
  const options: MentionOption[] = useMemo(() => {
    if (!query || !mentionSource || !ac) return [];
    return query.trigger === '@'
      ? ac.matchMembers(mentionSource.members, query.query, { allowEveryone: mentionSource.allowEveryone })
      : ac.matchChannels(mentionSource.channels, query.query);
  }, [query?.trigger, query?.query, mentionSource, ac]); // eslint-disable-line react-hooks/exhaustive-deps
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
    if (!query || !ac) return;
    const next = ac.applyCompletion(value, query, o.insert);
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

  const up = uploadsChunk.now();
  const tooLong = value.length > MAX_MESSAGE_LENGTH;
  const uploading = uploads.some((u) => u.status === 'uploading');
  const ready = uploads.filter((u) => u.status === 'done' && u.attachment).map((u) => u.attachment!);
  const canSend = (!!value.trim() || ready.length > 0) && !tooLong && !disabled && !uploading;

  const send = () => {
    if (!canSend) return;
    if (ready.length > 0) onSend(value, ready);
    else onSend(value);
    typing.current?.stop();
    setValue('');
    saveDraft(userId, channelId, '');
    for (const u of uploads) if (u.thumb) URL.revokeObjectURL(u.thumb);
    setUploads([]);
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
      {/* Uploads are made by the upload chunk, so it is here whenever there are some. */}
      {uploads.length > 0 && up && <up.UploadTray uploads={uploads} onRemove={dropUpload} />}
      {attachError && (
        <p className="upload-error" role="alert" data-testid="upload-error">
          {attachError}
        </p>
      )}
      {open && ac && (
        <ac.MentionOptions
          trigger={query!.trigger}
          listId={listId}
          options={options}
          activeIndex={activeIndex}
          optionId={optionId}
          onActive={setActive}
          onPick={pick}
        />
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
            onPaste={(e) => {
              // A pasted image (a screenshot) arrives as a file; text pastes as usual.
              const files = Array.from(e.clipboardData?.files ?? []);
              if (files.length > 0 && uploader) {
                e.preventDefault();
                addFiles(files);
              }
            }}
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
        {/* After the text box in tab order (Shift+Tab from the text still reaches the messages); shown first by CSS. */}
        {uploader && (
          <>
            <button
              type="button"
              className="attach-button icon-button"
              aria-label="Attach files"
              title="Attach files"
              onClick={() => fileInput.current?.click()}
              disabled={disabled}
              data-testid="composer-attach"
            >
              <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M12 5v14M5 12h14" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
              </svg>
            </button>
            <input
              ref={fileInput}
              type="file"
              multiple
              hidden
              data-testid="composer-file-input"
              onChange={(e) => {
                addFiles(Array.from(e.target.files ?? []));
                e.target.value = ''; // the same file can be picked again
              }}
            />
          </>
        )}
        {value.length > MAX_MESSAGE_LENGTH - 200 && (
          <span className={`char-count${tooLong ? ' over' : ''}`} aria-live="polite">
            {MAX_MESSAGE_LENGTH - value.length}
          </span>
        )}
        <button type="submit" className="send-button" aria-label="Send message" disabled={!canSend} data-testid="composer-send">
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
            <path fill="currentColor" d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z" />
          </svg>
        </button>
      </div>
    </form>
  );
}
