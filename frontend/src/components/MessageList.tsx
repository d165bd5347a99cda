import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso';
import type { Id } from '../api/types';
import { toItems, type ChannelMessages, type ChatItem } from '../chat/messageStore';
import { compareIds } from '../chat/ids';
import { mentionsMe } from '../chat/mentions';
import { receiptStatus, type ChannelReceipts, type ReceiptStatus } from '../chat/receipts';
import { MessageItem } from './MessageItem';
import { Modal, Spinner } from './ui';
import { MessageContent } from './MessageContent';
import { PinSystemLine } from './PinsPanel';
import { useBlocked } from '../app/safety';

const BASE_INDEX = 1_000_000_000;

export interface MessageListHandle {
  scrollToBottom: () => void;
  editLastOwn: () => void;
  jumpToUnread: () => void;
}

export interface MessageListProps {
  channelId: Id;
  state: ChannelMessages | undefined;
  meId: Id;
  /** DMs: the other participants, for sent/delivered/seen marks on own messages. */
  receiptsFor?: Id[];
  receipts?: ChannelReceipts;
  loadError?: string;
  loadingOlder: boolean;
  intro: React.ReactNode;
  onLoadOlder: () => void;
  onReload: () => void;
  onAtBottomChange: (atBottom: boolean) => void;
  onRetry: (nonce: string) => void;
  onDiscard: (nonce: string) => void;
  onEdit: (messageId: Id, content: string) => Promise<void>;
  onDelete: (messageId: Id) => Promise<void>;
  onReact?: (messageId: Id, emoji: string, add: boolean) => Promise<void>;
  handleRef?: React.RefObject<MessageListHandle | null>;
  onError: (message: string) => void;
  /** Scroll to this loaded message (a new `seq` scrolls again). */
  jump?: { id: Id; seq: number } | null;
  /** The list is a window into the past: page forward, or go back to the newest messages. */
  onLoadNewer?: () => void;
  onJumpToPresent?: () => void;
  /** The first message that was unread when the channel was opened: a "New messages" divider above it, and a bar to
   *  jump there while it is above the view. */
  unreadMarker?: { id: Id; count: number } | null;
  onMarkRead?: () => void;
}

export function statusFor(item: ChatItem, mine: boolean, others: Id[] | undefined, receipts: ChannelReceipts | undefined): ReceiptStatus | undefined {
  if (!mine || !others) return undefined;
  if (item.state === 'pending') return 'pending';
  if (item.state === 'failed') return 'failed';
  if (!item.id || !receipts) return 'sent';
  return receiptStatus(item.id, others, receipts, item.read);
}

interface ListContext {
  hasMoreOlder: boolean;
  loadingOlder: boolean;
  intro: React.ReactNode;
}

function ListHeader({ context }: { context?: ListContext }) {
  if (!context) return null;
  return context.hasMoreOlder ? (
    <div className="list-header">
      {context.loadingOlder ? <Spinner label="Loading older messages" /> : <span className="muted small">Scroll up for older messages</span>}
    </div>
  ) : (
    <div className="list-header intro" data-testid="channel-start">
      {context.intro}
    </div>
  );
}

export function MessageList(props: MessageListProps) {
  const { channelId, state, meId, receiptsFor, receipts, onAtBottomChange, handleRef } = props;
  const items = useMemo(() => toItems(state), [state]);
  const jump = props.jump;
  const jumpIndex = useMemo(() => (jump ? items.findIndex((it) => it.id === jump.id) : -1), [items, jump]);
  const detached = !!state?.hasMoreNewer;
  const virtuoso = useRef<VirtuosoHandle>(null);
  const [atBottom, setAtBottom] = useState(true);
  const [unseen, setUnseen] = useState(0);
  const [editing, setEditing] = useState<string | null>(null);
  // Messages of people I block are collapsed (as in Discord) until I choose to see one.
  const blocked = useBlocked();
  const blockedIds = useMemo(() => new Set(blocked.map((u) => u.id)), [blocked]);
  const [revealed, setRevealed] = useState<ReadonlySet<string>>(() => new Set());
  const [confirmDelete, setConfirmDelete] = useState<ChatItem | null>(null);
  const forceFollow = useRef(false);
  const lastKey = useRef<string | null>(null);
  const lastPendingRef = useRef<string | null>(null);
  const atBottomRef = useRef(true);
  const [firstVisible, setFirstVisible] = useState<number | null>(null);
  const marker = props.unreadMarker ?? null;
  const markerIndex = useMemo(() => (marker ? items.findIndex((it) => it.id === marker.id) : -1), [items, marker]);

  // Own sends always scroll down; messages from others that arrive while scrolled up are counted for the
  // "new messages" button (pending sends stay last, so look at the newest confirmed message, not the last row).
  const lastPending = state?.pending[state.pending.length - 1]?.nonce ?? null;
  const newestMsg = state?.messages[state.messages.length - 1];
  useEffect(() => {
    const prev = lastPendingRef.current;
    lastPendingRef.current = lastPending;
    if (lastPending && lastPending !== prev) {
      forceFollow.current = true;
      requestAnimationFrame(() => virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'auto' }));
    }
  }, [lastPending]);
  useEffect(() => {
    const prev = lastKey.current;
    lastKey.current = newestMsg?.id ?? null;
    if (!newestMsg || prev === null || newestMsg.id === prev) return;
    if (!atBottomRef.current && newestMsg.senderId !== meId && compareIds(newestMsg.id, prev) > 0) setUnseen((n) => n + 1);
  }, [newestMsg, meId]);

  const scrollToBottom = useCallback(() => {
    virtuoso.current?.scrollToIndex({ index: 'LAST', align: 'end', behavior: 'smooth' });
    setUnseen(0);
  }, []);

  const editLastOwn = useCallback(() => {
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (it.senderId === meId && it.state === 'sent' && it.id && it.type !== 'pin') {
        setEditing(it.key);
        virtuoso.current?.scrollToIndex({ index: i, align: 'center' });
        return;
      }
    }
  }, [items, meId]);

  // A jump: scroll the target to the middle (after a remount, initialTopMostItemIndex already put it there).
  const jumpedSeq = useRef<number | null>(null);
  useEffect(() => {
    if (!jump || jumpIndex < 0 || jumpedSeq.current === jump.seq) return;
    jumpedSeq.current = jump.seq;
    const index = jumpIndex;
    requestAnimationFrame(() => virtuoso.current?.scrollToIndex({ index, align: 'center', behavior: 'auto' }));
  }, [jump, jumpIndex]);

  const jumpToUnread = useCallback(() => {
    if (markerIndex >= 0) virtuoso.current?.scrollToIndex({ index: markerIndex, align: 'start', behavior: 'auto' });
  }, [markerIndex]);

  useEffect(() => {
    if (handleRef) handleRef.current = { scrollToBottom, editLastOwn, jumpToUnread };
  }, [handleRef, scrollToBottom, editLastOwn, jumpToUnread]);

  const changeBottom = useCallback(
    (b: boolean) => {
      atBottomRef.current = b;
      setAtBottom(b);
      if (b) setUnseen(0);
      onAtBottomChange(b);
    },
    [onAtBottomChange],
  );

  const { onEdit, onDelete, onRetry, onDiscard, onError } = props;
  const onSaveEdit = useCallback(
    (item: ChatItem, content: string) => {
      setEditing(null);
      if (!item.id || content.trim() === item.content.trim()) return;
      if (!content.trim()) {
        setConfirmDelete(item);
        return;
      }
      onEdit(item.id, content.replace(/\s+$/, '')).catch((e: unknown) => onError(e instanceof Error ? e.message : String(e)));
    },
    [onEdit, onError],
  );
  const doDelete = useCallback(
    (item: ChatItem) => {
      if (item.id) onDelete(item.id).catch((e: unknown) => onError(e instanceof Error ? e.message : String(e)));
    },
    [onDelete, onError],
  );
  const onDeleteClick = useCallback(
    (item: ChatItem, skip: boolean) => {
      if (skip) doDelete(item);
      else setConfirmDelete(item);
    },
    [doDelete],
  );
  const onStartEdit = useCallback((item: ChatItem) => setEditing(item.key), []);
  const onCancelEdit = useCallback(() => setEditing(null), []);
  const retry = useCallback((item: ChatItem) => onRetry(item.nonce), [onRetry]);
  const discard = useCallback((item: ChatItem) => onDiscard(item.nonce), [onDiscard]);
  const { onReact } = props;
  const react = useCallback(
    (item: ChatItem, emoji: string, add: boolean) => {
      if (item.id) onReact?.(item.id, emoji, add).catch((e: unknown) => onError(e instanceof Error ? e.message : String(e)));
    },
    [onReact, onError],
  );

  if (!state?.loaded) {
    return (
      <div className="message-list center" data-testid="message-list" data-loaded="false">
        {props.loadError ? (
          <div className="load-error" role="alert">
            <p>Couldn't load messages: {props.loadError}</p>
            <button type="button" className="button" onClick={props.onReload}>
              Try again
            </button>
          </div>
        ) : (
          <Spinner label="Loading messages" />
        )}
      </div>
    );
  }

  return (
    <div className="message-list" data-testid="message-list" data-loaded="true">
      <Virtuoso
        key={`${channelId}:${state.epoch}`}
        ref={virtuoso}
        className="virtuoso"
        data={items}
        firstItemIndex={BASE_INDEX - state.prepended}
        initialTopMostItemIndex={jumpIndex >= 0 ? { index: jumpIndex, align: 'center' } : { index: 'LAST', align: 'end' }}
        computeItemKey={(_, item) => item.key}
        alignToBottom
        atBottomThreshold={64}
        increaseViewportBy={{ top: 600, bottom: 200 }}
        startReached={() => {
          if (state.hasMoreOlder) props.onLoadOlder();
        }}
        endReached={() => {
          if (state.hasMoreNewer) props.onLoadNewer?.();
        }}
        followOutput={(isAtBottom) => {
          if (state.hasMoreNewer) return false;
          if (forceFollow.current) {
            forceFollow.current = false;
            return 'auto';
          }
          return isAtBottom ? 'smooth' : false;
        }}
        atBottomStateChange={changeBottom}
        rangeChanged={(r) => setFirstVisible(r.startIndex)}
        components={{ Header: ListHeader }}
        context={{ hasMoreOlder: state.hasMoreOlder, loadingOlder: props.loadingOlder, intro: props.intro }}
        itemContent={(_, item) => {
          if (item.type === 'pin') return <PinSystemLine item={item} />;
          if (blockedIds.has(item.senderId) && !revealed.has(item.key)) {
            return (
              <div className="blocked-message muted" data-testid="blocked-message">
                Blocked message ·{' '}
                <button type="button" className="link-button" onClick={() => setRevealed((r) => new Set(r).add(item.key))}>
                  Show
                </button>
              </div>
            );
          }
          const mine = item.senderId === meId;
          const row = (
            <MessageItem
              item={item}
              mine={mine}
              status={statusFor(item, mine, receiptsFor, receipts)}
              editing={editing === item.key}
              mentioned={item.state === 'sent' && mentionsMe(item, meId)}
              onStartEdit={onStartEdit}
              onCancelEdit={onCancelEdit}
              onSaveEdit={onSaveEdit}
              onDelete={onDeleteClick}
              onRetry={retry}
              onDiscard={discard}
              onReact={onReact ? react : undefined}
            />
          );
          return marker && item.id === marker.id ? (
            <>
              <div className="unread-divider" role="separator" aria-label="New messages" data-testid="unread-divider">
                <span aria-hidden="true">New messages</span>
              </div>
              {row}
            </>
          ) : (
            row
          );
        }}
      />
      {marker && markerIndex >= 0 && firstVisible !== null && firstVisible > BASE_INDEX - state.prepended + markerIndex && (
        <div className="unread-bar" data-testid="unread-bar">
          <button type="button" className="unread-bar-jump" onClick={jumpToUnread} data-testid="jump-to-unread">
            {marker.count > 99 ? '99+' : marker.count} new message{marker.count === 1 ? '' : 's'} · Jump to first unread ↑
          </button>
          {props.onMarkRead && (
            <button type="button" className="unread-bar-read" onClick={props.onMarkRead} data-testid="unread-bar-mark-read">
              Mark as read
            </button>
          )}
        </div>
      )}
      {detached && (
        <button type="button" className="jump-present" onClick={props.onJumpToPresent} data-testid="jump-to-present">
          You're viewing older messages · Jump to present ↓
        </button>
      )}
      {!detached && !atBottom && unseen > 0 && (
        <button type="button" className="new-messages" onClick={scrollToBottom} data-testid="new-messages-button">
          {unseen} new message{unseen === 1 ? '' : 's'} ↓
        </button>
      )}
      {!detached && !atBottom && unseen === 0 && (
        <button type="button" className="jump-bottom" onClick={scrollToBottom} aria-label="Jump to latest messages" data-testid="jump-to-bottom">
          ↓
        </button>
      )}
      {confirmDelete && (
        <Modal
          title="Delete message"
          onClose={() => setConfirmDelete(null)}
          testId="confirm-delete-modal"
          footer={
            <>
              <button type="button" className="button ghost" onClick={() => setConfirmDelete(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="button danger"
                onClick={() => {
                  doDelete(confirmDelete);
                  setConfirmDelete(null);
                }}
                data-testid="confirm-delete"
              >
                Delete
              </button>
            </>
          }
        >
          <p>Are you sure you want to delete this message?</p>
          <blockquote className="quote">
            <MessageContent content={confirmDelete.content} />
          </blockquote>
        </Modal>
      )}
    </div>
  );
}
