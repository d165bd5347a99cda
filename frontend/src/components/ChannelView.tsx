import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useSearchParams } from 'wouter';
import type { Attachment, Id } from '../api/types';
import { errorMessage } from '../api/http';
import { newestId, type ChatItem } from '../chat/messageStore';
import { pinnedIds } from '../chat/pins';
import { useMe, useServices } from '../app/services';
import { useQuery } from '@tanstack/react-query';
import { DEFAULT_LIMITS } from '../api/files';
import { useChannelMessages, useRealtime, useReceipts } from '../realtime/RealtimeProvider';
import { useShell } from './AppShell';
import { Composer, type ComposerHandle, type MentionSource, type Uploader } from './Composer';
import { ConnectionBanner } from './ConnectionBanner';
import { MessageList, type MessageListHandle } from './MessageList';
import { useNotify } from './notices';
import { TypingLine } from './TypingLine';
import { MessageExtrasContext, type MessageExtras } from './messageExtras';
import { PinsButton, usePins } from './PinsPanel';
import { SearchBox, type SearchScope } from './SearchPanel';
import { PinsPanel, ReplyBar, SearchPanel } from './lazy';
import { firstUnreadId, shortcutFor } from '../app/shortcuts';
import './replies-pins.css';

const HIGHLIGHT_MS = 2500;

export interface ChannelViewProps {
  channelId: Id;
  title: ReactNode;
  topic?: string;
  placeholder: string;
  intro: ReactNode;
  /** DMs: the other participants (enables sent/delivered/seen marks). */
  receiptsFor?: Id[];
  headerActions?: ReactNode;
  aside?: ReactNode;
  /** Who and what the composer's `@` / `#` autocomplete offers. */
  mentionSource?: MentionSource;
  /** May pin and unpin here: owners and admins in servers, anyone in DMs. */
  canPin?: boolean;
  /** Shown instead of the composer (a 1:1 DM with someone I block). */
  composerNotice?: ReactNode;
  /** Where the header's search box looks: the server's channels, or the user's DMs. */
  searchScope?: SearchScope;
  /** Unread messages when the channel was opened (the "New messages" divider goes above the first of them). */
  unreadAtOpen?: number;
  /** An end-to-end encrypted DM: files are encrypted in the browser before they are uploaded (e2ee/files.ts). */
  encryptFiles?: boolean;
}

export function ChatHeader({ title, topic, actions }: { title: ReactNode; topic?: string; actions?: ReactNode }) {
  const { openNav } = useShell();
  return (
    <header className="chat-header">
      <button type="button" className="icon-button menu-button" aria-label="Open navigation" onClick={openNav} data-testid="open-nav">
        <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 6h16M4 12h16M4 18h16" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      </button>
      <h1 className="chat-title truncate" data-testid="chat-title">
        {title}
      </h1>
      {topic && (
        <>
          <span className="chat-divider" aria-hidden="true" />
          <span className="chat-topic truncate" title={topic}>
            {topic}
          </span>
        </>
      )}
      <div className="chat-header-actions">{actions}</div>
    </header>
  );
}

export function ChannelView({
  channelId,
  title,
  topic,
  placeholder,
  intro,
  receiptsFor,
  headerActions,
  aside,
  mentionSource,
  canPin = false,
  composerNotice,
  searchScope,
  unreadAtOpen = 0,
  encryptFiles = false,
}: ChannelViewProps) {
  const rt = useRealtime();
  const me = useMe();
  const notify = useNotify();
  const state = useChannelMessages(channelId);
  const receipts = useReceipts(channelId);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const atBottom = useRef(true);
  const list = useRef<MessageListHandle | null>(null);
  const chatRef = useRef<HTMLElement>(null);
  const pinsButton = useRef<HTMLButtonElement>(null);
  const [replyTo, setReplyTo] = useState<ChatItem | null>(null);
  const [pinsOpen, setPinsOpen] = useState(false);
  const [jump, setJump] = useState<{ id: Id; seq: number } | null>(null);
  const [highlightId, setHighlightId] = useState<Id | null>(null);
  // Where the unread run started when the channel was opened, fixed once the first page is in (the view is keyed
  // by channel, so this is per visit, as in Discord); cleared by "Mark as read".
  const [unreadCount] = useState(unreadAtOpen);
  const [marker, setMarker] = useState<{ id: Id; count: number } | null | undefined>(undefined);
  if (marker === undefined && state?.loaded) {
    const id = firstUnreadId(state.messages, unreadCount, me.id);
    setMarker(id ? { id, count: unreadCount } : null);
  }
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (shortcutFor(e)?.kind !== 'first-unread') return;
      e.preventDefault();
      list.current?.jumpToUnread();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  const pins = usePins(channelId);
  const pinned = useMemo(() => pinnedIds(pins.data), [pins.data]);

  useEffect(() => {
    rt.read.setActiveChannel(channelId);
    rt.history.ensureLoaded(channelId).catch(() => undefined);
    return () => {
      if (rt.read.activeChannelId === channelId) rt.read.setActiveChannel(null);
    };
  }, [rt, channelId]);

  // Read receipts: the newest message counts as read while this channel is on screen, scrolled to the bottom,
  // and the window has focus.
  const newest = newestId(state);
  useEffect(() => {
    if (newest && atBottom.current) rt.read.markRead(channelId);
  }, [rt, channelId, newest]);
  useEffect(() => {
    const check = () => {
      if (atBottom.current) rt.read.markRead(channelId);
    };
    window.addEventListener('focus', check);
    document.addEventListener('visibilitychange', check);
    return () => {
      window.removeEventListener('focus', check);
      document.removeEventListener('visibilitychange', check);
    };
  }, [rt, channelId]);

  const onAtBottomChange = useCallback(
    (b: boolean) => {
      atBottom.current = b;
      if (b) rt.read.markRead(channelId);
    },
    [rt, channelId],
  );

  const loadOlder = useCallback(() => {
    if (rt.history.isLoadingOlder(channelId)) return;
    setLoadingOlder(true);
    rt.history.loadOlder(channelId)
      .catch((e) => notify(`Couldn't load older messages: ${errorMessage(e)}`, 'error'))
      .finally(() => setLoadingOlder(false));
  }, [rt, channelId, notify]);

  const focusComposer = useCallback(() => chatRef.current?.querySelector<HTMLTextAreaElement>('[data-testid="composer-input"]')?.focus(), []);

  // Jumps: to a loaded message, or to the page around it (see rt.history.jumpTo); the target is highlighted briefly.
  const jumpSeq = useRef(0);
  const highlightTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (highlightTimer.current) clearTimeout(highlightTimer.current);
  }, []);
  const jumpTo = useCallback(
    (id: Id) => {
      rt.history.jumpTo(channelId, id)
        .then((found) => {
          if (!found) {
            notify('That message was deleted.', 'error');
            return;
          }
          setJump({ id, seq: ++jumpSeq.current });
          setHighlightId(id);
          if (highlightTimer.current) clearTimeout(highlightTimer.current);
          highlightTimer.current = setTimeout(() => setHighlightId(null), HIGHLIGHT_MS);
        })
        .catch((e) => notify(`Couldn't load that message: ${errorMessage(e)}`, 'error'));
    },
    [rt, channelId, notify],
  );
  // Search lives in the URL (?search=), so its results stay open when a result opens another channel; ?jump=
  // (set by a result) opens this channel at that message once its newest page is in.
  const [params, setParams] = useSearchParams();
  const searchQuery = params.get('search') ?? '';
  const jumpParam = params.get('jump');
  useEffect(() => {
    if (!jumpParam) return;
    rt.history.ensureLoaded(channelId)
      .catch(() => undefined)
      .then(() => jumpTo(jumpParam));
    setParams(
      (p) => {
        p.delete('jump');
        return p;
      },
      { replace: true },
    );
  }, [jumpParam, rt, channelId, jumpTo, setParams]);
  const onSearch = useCallback((q: string) => setParams({ search: q }), [setParams]);
  const closeSearch = useCallback(
    () =>
      setParams((p) => {
        p.delete('search');
        return p;
      }),
    [setParams],
  );

  const jumpToPresent = useCallback(() => {
    setJump(null);
    rt.history.loadNewest(channelId)
      // The list remounts on the newest page; make sure it ends at the bottom once its rows are measured.
      .then(() => requestAnimationFrame(() => list.current?.scrollToBottom()))
      .catch((e) => notify(`Couldn't load messages: ${errorMessage(e)}`, 'error'));
  }, [rt, channelId, notify]);
  const loadNewer = useCallback(() => {
    if (rt.history.isLoadingNewer(channelId)) return;
    rt.history.loadNewer(channelId).catch((e) => notify(`Couldn't load newer messages: ${errorMessage(e)}`, 'error'));
  }, [rt, channelId, notify]);

  const reply = useCallback(
    (item: ChatItem) => {
      setReplyTo(item);
      focusComposer();
    },
    [focusComposer],
  );
  const setPinned = useCallback(
    (messageId: Id, pin: boolean) => {
      rt.sender.pin(channelId, messageId, pin).catch((e) => notify(`Couldn't ${pin ? 'pin' : 'unpin'} the message: ${errorMessage(e)}`, 'error'));
    },
    [rt, channelId, notify],
  );
  const closePins = useCallback(() => {
    setPinsOpen(false);
    pinsButton.current?.focus();
  }, []);
  const openPins = useCallback(() => setPinsOpen(true), []);
  const extras = useMemo<MessageExtras>(
    () => ({ channelId, canPin, pinned, highlightId, reply, setPinned, jumpTo, openPins }),
    [channelId, canPin, pinned, highlightId, reply, setPinned, jumpTo, openPins],
  );

  const { auth, api } = useServices();
  const limits = useQuery({ queryKey: ['uploadLimits'], queryFn: () => api.uploadLimits(), staleTime: Infinity }).data ?? DEFAULT_LIMITS;
  const uploader = useCallback<Uploader>(
    async (file, onProgress, signal) => {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('You are not logged in.');
      const opts = { channelId, file, token, onProgress, signal };
      // Both lazy: the upload code came with the composer's upload chunk (prefetched after the first paint).
      return encryptFiles ? (await import('../e2ee/files')).uploadEncrypted(opts) : (await import('../api/uploads')).uploadFile(opts);
    },
    [auth, channelId, encryptFiles],
  );
  const composer = useRef<ComposerHandle>(null);
  const [dragging, setDragging] = useState(false);
  const hasFiles = (e: React.DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

  const onSend = useCallback(
    (content: string, attachments: Attachment[] = []) => {
      rt.sender.send(channelId, content, replyTo?.id, attachments);
      setReplyTo(null);
      // Sent from a window into the past: the message shows with the newest ones.
      if (rt.chat.getChannel(channelId)?.hasMoreNewer) jumpToPresent();
      list.current?.scrollToBottom();
    },
    [rt, channelId, replyTo, jumpToPresent],
  );
  const onTyping = useCallback((ev: 'typing:start' | 'typing:stop') => rt.typing.say(channelId, ev), [rt, channelId]);
  const onRetry = useCallback((nonce: string) => rt.sender.retry(channelId, nonce), [rt, channelId]);
  const onDiscard = useCallback((nonce: string) => rt.sender.discard(channelId, nonce), [rt, channelId]);
  const onEdit = useCallback((id: Id, content: string) => rt.sender.edit(channelId, id, content), [rt, channelId]);
  const onDelete = useCallback((id: Id) => rt.sender.remove(channelId, id), [rt, channelId]);
  const onReact = useCallback((id: Id, emoji: string, add: boolean) => rt.sender.react(channelId, id, emoji, add), [rt, channelId]);
  const onError = useCallback((m: string) => notify(m, 'error'), [notify]);
  const onEscape = useCallback(() => {
    if (replyTo) {
      setReplyTo(null);
      return;
    }
    rt.read.markRead(channelId);
    setMarker(null);
    list.current?.scrollToBottom();
  }, [rt, channelId, replyTo]);
  const onMarkRead = useCallback(() => {
    rt.read.markRead(channelId);
    setMarker(null);
  }, [rt, channelId]);
  const onReload = useCallback(() => {
    rt.history.loadNewest(channelId).catch(() => undefined);
  }, [rt, channelId]);

  return (
    <main className="main">
      <ChatHeader
        title={title}
        topic={topic}
        actions={
          <>
            <PinsButton open={pinsOpen} onToggle={() => (pinsOpen ? closePins() : openPins())} buttonRef={pinsButton} />
            {headerActions}
            {searchScope && <SearchBox scope={searchScope} query={searchQuery} onSearch={onSearch} />}
          </>
        }
      />
      <MessageExtrasContext.Provider value={extras}>
        <div className="main-body">
          <section
            className={`chat${dragging ? ' dragging' : ''}`}
            aria-label="Messages"
            data-testid="chat"
            data-channel-id={channelId}
            ref={chatRef}
            onDragOver={(e) => {
              if (!hasFiles(e) || composerNotice) return;
              e.preventDefault();
              e.dataTransfer.dropEffect = 'copy';
              setDragging(true);
            }}
            onDragLeave={(e) => {
              if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
            }}
            onDrop={(e) => {
              if (!hasFiles(e)) return;
              e.preventDefault();
              setDragging(false);
              if (!composerNotice) composer.current?.addFiles(Array.from(e.dataTransfer.files));
            }}
          >
            <ConnectionBanner />
            <MessageList
              channelId={channelId}
              state={state}
              meId={me.id}
              receiptsFor={receiptsFor}
              receipts={receipts}
              loadError={state?.loaded ? undefined : rt.history.loadError(channelId)}
              loadingOlder={loadingOlder}
              intro={intro}
              onLoadOlder={loadOlder}
              onReload={onReload}
              onAtBottomChange={onAtBottomChange}
              onRetry={onRetry}
              onDiscard={onDiscard}
              onEdit={onEdit}
              onDelete={onDelete}
              onReact={onReact}
              onError={onError}
              handleRef={list}
              jump={jump}
              onLoadNewer={loadNewer}
              onJumpToPresent={jumpToPresent}
              unreadMarker={marker}
              onMarkRead={onMarkRead}
            />
            {replyTo && (
              <ReplyBar
                senderId={replyTo.senderId}
                onCancel={() => {
                  setReplyTo(null);
                  focusComposer();
                }}
              />
            )}
            {composerNotice ?? (
            <Composer
              channelId={channelId}
              userId={me.id}
              placeholder={placeholder}
              onSend={onSend}
              onTyping={onTyping}
              onEditLast={() => list.current?.editLastOwn()}
              onEscape={onEscape}
              mentionSource={mentionSource}
              uploader={uploader}
              limits={limits}
              handle={composer}
            />
            )}
            <TypingLine channelId={channelId} />
          </section>
          {searchScope && searchQuery ? (
            <SearchPanel scope={searchScope} query={searchQuery} currentChannelId={channelId} onJumpHere={jumpTo} onClose={closeSearch} />
          ) : pinsOpen ? (
            <PinsPanel channelId={channelId} onClose={closePins} />
          ) : (
            aside
          )}
        </div>
      </MessageExtrasContext.Provider>
    </main>
  );
}
