import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { Id } from '../api/types';
import { errorMessage } from '../api/http';
import { newestId } from '../chat/messageStore';
import { useMe } from '../app/services';
import { useChannelMessages, useRealtime, useReceipts } from '../realtime/RealtimeProvider';
import { useShell } from './AppShell';
import { Composer, type MentionSource } from './Composer';
import { ConnectionBanner } from './ConnectionBanner';
import { MessageList, type MessageListHandle } from './MessageList';
import { useNotify } from './notices';
import { TypingLine } from './TypingLine';

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
}: ChannelViewProps) {
  const rt = useRealtime();
  const me = useMe();
  const notify = useNotify();
  const state = useChannelMessages(channelId);
  const receipts = useReceipts(channelId);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const atBottom = useRef(true);
  const list = useRef<MessageListHandle | null>(null);

  useEffect(() => {
    rt.setActiveChannel(channelId);
    rt.ensureLoaded(channelId).catch(() => undefined);
    return () => {
      if (rt.activeChannelId === channelId) rt.setActiveChannel(null);
    };
  }, [rt, channelId]);

  // Read receipts: the newest message counts as read while this channel is on screen, scrolled to the bottom,
  // and the window has focus.
  const newest = newestId(state);
  useEffect(() => {
    if (newest && atBottom.current) rt.markRead(channelId);
  }, [rt, channelId, newest]);
  useEffect(() => {
    const check = () => {
      if (atBottom.current) rt.markRead(channelId);
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
      if (b) rt.markRead(channelId);
    },
    [rt, channelId],
  );

  const loadOlder = useCallback(() => {
    if (rt.isLoadingOlder(channelId)) return;
    setLoadingOlder(true);
    rt.loadOlder(channelId)
      .catch((e) => notify(`Couldn't load older messages: ${errorMessage(e)}`, 'error'))
      .finally(() => setLoadingOlder(false));
  }, [rt, channelId, notify]);

  const onSend = useCallback(
    (content: string) => {
      rt.send(channelId, content);
      list.current?.scrollToBottom();
    },
    [rt, channelId],
  );
  const onTyping = useCallback((ev: 'typing:start' | 'typing:stop') => rt.typing(channelId, ev), [rt, channelId]);
  const onRetry = useCallback((nonce: string) => rt.retry(channelId, nonce), [rt, channelId]);
  const onDiscard = useCallback((nonce: string) => rt.discard(channelId, nonce), [rt, channelId]);
  const onEdit = useCallback((id: Id, content: string) => rt.edit(channelId, id, content), [rt, channelId]);
  const onDelete = useCallback((id: Id) => rt.remove(channelId, id), [rt, channelId]);
  const onReact = useCallback((id: Id, emoji: string, add: boolean) => rt.react(channelId, id, emoji, add), [rt, channelId]);
  const onError = useCallback((m: string) => notify(m, 'error'), [notify]);
  const onEscape = useCallback(() => {
    rt.markRead(channelId);
    list.current?.scrollToBottom();
  }, [rt, channelId]);
  const onReload = useCallback(() => {
    rt.loadNewest(channelId).catch(() => undefined);
  }, [rt, channelId]);

  return (
    <main className="main">
      <ChatHeader title={title} topic={topic} actions={headerActions} />
      <div className="main-body">
        <section className="chat" aria-label="Messages" data-testid="chat" data-channel-id={channelId}>
          <ConnectionBanner />
          <MessageList
            channelId={channelId}
            state={state}
            meId={me.id}
            receiptsFor={receiptsFor}
            receipts={receipts}
            loadError={state?.loaded ? undefined : rt.loadError(channelId)}
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
          />
          <Composer
            channelId={channelId}
            userId={me.id}
            placeholder={placeholder}
            onSend={onSend}
            onTyping={onTyping}
            onEditLast={() => list.current?.editLastOwn()}
            onEscape={onEscape}
            mentionSource={mentionSource}
          />
          <TypingLine channelId={channelId} />
        </section>
        {aside}
      </div>
    </main>
  );
}
