import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Virtualizer, type VirtualizerHandle } from 'virtua';
import type { Id } from '../api/types';
import { toItems, type ChannelMessages, type ChatItem } from '../chat/messageStore';
import { compareIds } from '../chat/ids';
import { mentionsMe } from '../chat/mentions';
import { receiptStatus, type ChannelReceipts, type ReceiptStatus } from '../chat/receipts';
import { MessageItem } from './MessageItem';
import { Spinner } from './ui';
import { PinSystemLine } from './PinsPanel';
import { DeleteConfirm, EncryptionSystemLine } from './lazy';
import { useBlocked } from '../app/safety';

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

function ListHeader({ hasMoreOlder, loadingOlder, intro }: { hasMoreOlder: boolean; loadingOlder: boolean; intro: React.ReactNode }) {
  return hasMoreOlder ? (
    <div className="list-header">
      {loadingOlder ? <Spinner label="Loading older messages" /> : <span className="muted small">Scroll up for older messages</span>}
    </div>
  ) : (
    <div className="list-header intro" data-testid="channel-start">
      {intro}
    </div>
  );
}

// How close (px) to an edge counts as there: "at the bottom" (new messages keep the view there), and near enough to
// the top or bottom of what is loaded to fetch the next page before the user reaches it.
const AT_BOTTOM_PX = 64;
const LOAD_OLDER_PX = 600;
const LOAD_NEWER_PX = 200;

/** Whether `after` differs from `before` only at the start (older messages loaded, or the oldest removed): the first
 *  row changed while the last stayed. Then the list keeps its distance from the end, so what is on screen stays. */
export function changedAtStart(before: readonly ChatItem[], after: readonly ChatItem[]): boolean {
  if (before.length === 0 || after.length === 0) return false;
  return before[0].key !== after[0].key && before[before.length - 1].key === after[after.length - 1].key;
}

interface RowsHandle {
  /** Scrolls to an item (an index into `items`), or to the last one with index -1. */
  scrollTo: (index: number, align: 'start' | 'center' | 'end', smooth?: boolean) => void;
}

interface RowsProps {
  items: ChatItem[];
  header: ReactNode;
  /** Where a new list opens: an item in the middle (a jump), or the bottom. */
  initial: number | 'bottom';
  /** New items at the end keep the view at the bottom (not while the list is a window into the past). */
  follow: boolean;
  /** Changes when I send: the view goes to the bottom wherever it was. */
  ownSend: string | null;
  renderItem: (item: ChatItem) => ReactNode;
  onNearTop: () => void;
  onNearBottom: () => void;
  onAtBottomChange: (atBottom: boolean) => void;
  /** The index of the first item in view. */
  onFirstVisible: (index: number) => void;
  handleRef: React.RefObject<RowsHandle | null>;
}

/**
 * The scrolled, virtualized rows (virtua: a few KB where react-virtuoso was 16 KB of the chat screen's first load):
 * the header as row 0, then the items; short channels sit at the bottom (a spacer above); older pages prepended
 * keep what is on screen in place (virtua's `shift`); the view follows new messages while at the bottom.
 */
function Rows(props: RowsProps) {
  const { items, follow, ownSend, handleRef } = props;
  // The callbacks as of the last render, for the scroll handler (which must not change, or the list would reopen).
  const latest = useRef(props);
  useLayoutEffect(() => {
    latest.current = props;
  });
  const scroller = useRef<HTMLDivElement>(null);
  const list = useRef<VirtualizerHandle>(null);
  const [initial] = useState(props.initial);
  const atBottom = useRef(initial === 'bottom');
  const reported = useRef<boolean | null>(null);
  const nearEdge = useRef({ top: false, bottom: false });
  // Row 0 is the header (the intro, or "loading older"), so an empty channel still shows it.
  const rows = useMemo(() => [null, ...items], [items]);

  // `shift` must be true on the render where rows were added (or removed) at the start, so virtua keeps the
  // distance from the end: the first row changed while the last stayed. Derived from the previous items, kept in
  // state (not a ref) so that rendering stays pure.
  const [seen, setSeen] = useState({ items, shift: false });
  let shift = seen.shift;
  if (seen.items !== items) {
    shift = changedAtStart(seen.items, items);
    setSeen({ items, shift });
  }

  const toBottom = useCallback((smooth = false) => {
    list.current?.scrollToIndex(items.length, { align: 'end', smooth });
  }, [items.length]);

  const check = useCallback(() => {
    const el = scroller.current;
    const h = list.current;
    if (!el || !h) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    const bottom = fromBottom <= AT_BOTTOM_PX;
    atBottom.current = bottom;
    const { onAtBottomChange, onNearTop, onNearBottom, onFirstVisible } = latest.current;
    if (reported.current !== bottom) {
      reported.current = bottom;
      onAtBottomChange(bottom);
    }
    // Once per arrival near an edge (and again after the rows change), as a failed page is not retried on every
    // scroll event.
    const top = el.scrollTop <= LOAD_OLDER_PX;
    if (top && !nearEdge.current.top) onNearTop();
    const end = fromBottom <= LOAD_NEWER_PX;
    if (end && !nearEdge.current.bottom) onNearBottom();
    nearEdge.current = { top, bottom: end };
    onFirstVisible(Math.max(0, h.findItemIndex(el.scrollTop) - 1));
  }, []);

  useEffect(() => {
    handleRef.current = {
      scrollTo: (index, align, smooth) => {
        // Smooth only over a short way: across many rows not measured yet a smooth scroll can stop short.
        const el = scroller.current;
        const near = !!el && el.scrollHeight - el.scrollTop - el.clientHeight < 2 * el.clientHeight;
        if (index < 0) toBottom(smooth && near);
        else list.current?.scrollToIndex(index + 1, { align, smooth });
      },
    };
  }, [handleRef, toBottom]);

  // A new list opens at the jump target or at the bottom; whether the top is already in view (a short channel)
  // is known only once laid out.
  useLayoutEffect(() => {
    if (initial === 'bottom') list.current?.scrollToIndex(Number.MAX_SAFE_INTEGER, { align: 'end' });
    else list.current?.scrollToIndex(initial + 1, { align: 'center' });
    const id = requestAnimationFrame(check);
    return () => cancelAnimationFrame(id);
  }, [initial, check]);

  // New rows: my own send always goes to the bottom, others' only while I am there. A list that does not fill the
  // view yet has no scroll events, so it asks for older messages here.
  const lastSend = useRef(ownSend);
  useLayoutEffect(() => {
    const sent = ownSend !== null && ownSend !== lastSend.current;
    lastSend.current = ownSend;
    if (sent || (follow && atBottom.current)) toBottom();
    nearEdge.current = { top: false, bottom: false };
    const el = scroller.current;
    if (el && el.scrollHeight <= el.clientHeight) check();
  }, [items, ownSend, follow, toBottom, check]);

  // Rows that grow (an image loads, a reaction, an edit) or a view that shrinks keep the bottom in view.
  const onResize = useCallback(() => {
    if (follow && atBottom.current) toBottom();
  }, [follow, toBottom]);

  return (
    // Focusable, as react-virtuoso's scroller was: the keyboard scrolls the history (arrows, Page Up/Down), and axe's
    // scrollable-region-focusable holds.
    // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex -- a scrolled region, not a control
    <div ref={scroller} className="message-scroll" data-testid="message-scroller" tabIndex={0} onScroll={check}>
      <div className="list-spacer" aria-hidden="true" />
      <Virtualizer ref={list} scrollRef={scroller} data={rows} shift={shift} bufferSize={400} onResize={onResize}>
        {(item) => (item ? <Fragment key={item.key}>{props.renderItem(item)}</Fragment> : <Fragment key="header">{props.header}</Fragment>)}
      </Virtualizer>
    </div>
  );
}

export function MessageList(props: MessageListProps) {
  const { channelId, state, meId, receiptsFor, receipts, onAtBottomChange, handleRef } = props;
  const items = useMemo(() => toItems(state), [state]);
  const jump = props.jump;
  const jumpIndex = useMemo(() => (jump ? items.findIndex((it) => it.id === jump.id) : -1), [items, jump]);
  const detached = !!state?.hasMoreNewer;
  const rows = useRef<RowsHandle>(null);
  const [atBottom, setAtBottom] = useState(true);
  const [unseen, setUnseen] = useState(0);
  const [editing, setEditing] = useState<string | null>(null);
  // Messages of people I block are collapsed (as in Discord) until I choose to see one.
  const blocked = useBlocked();
  const blockedIds = useMemo(() => new Set(blocked.map((u) => u.id)), [blocked]);
  const [revealed, setRevealed] = useState<ReadonlySet<string>>(() => new Set());
  const [confirmDelete, setConfirmDelete] = useState<ChatItem | null>(null);
  const lastKey = useRef<string | null>(null);
  const atBottomRef = useRef(true);
  const [firstVisible, setFirstVisible] = useState<number | null>(null);
  const marker = props.unreadMarker ?? null;
  const markerIndex = useMemo(() => (marker ? items.findIndex((it) => it.id === marker.id) : -1), [items, marker]);

  // Own sends always scroll down; messages from others that arrive while scrolled up are counted for the
  // "new messages" button (pending sends stay last, so look at the newest confirmed message, not the last row).
  const lastPending = state?.pending[state.pending.length - 1]?.nonce ?? null;
  const newestMsg = state?.messages[state.messages.length - 1];
  useEffect(() => {
    const prev = lastKey.current;
    lastKey.current = newestMsg?.id ?? null;
    if (!newestMsg || prev === null || newestMsg.id === prev) return;
    if (!atBottomRef.current && newestMsg.senderId !== meId && compareIds(newestMsg.id, prev) > 0) setUnseen((n) => n + 1);
  }, [newestMsg, meId]);

  const scrollToBottom = useCallback(() => {
    rows.current?.scrollTo(-1, 'end', true);
    setUnseen(0);
  }, []);

  const editLastOwn = useCallback(() => {
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (it.senderId === meId && it.state === 'sent' && it.id && (it.type ?? 'default') === 'default') {
        setEditing(it.key);
        rows.current?.scrollTo(i, 'center');
        return;
      }
    }
  }, [items, meId]);

  // A jump: scroll the target to the middle (after a remount, the list already opened there).
  const jumpedSeq = useRef<number | null>(null);
  useEffect(() => {
    if (!jump || jumpIndex < 0 || jumpedSeq.current === jump.seq) return;
    jumpedSeq.current = jump.seq;
    const index = jumpIndex;
    requestAnimationFrame(() => rows.current?.scrollTo(index, 'center'));
  }, [jump, jumpIndex]);

  const jumpToUnread = useCallback(() => {
    if (markerIndex >= 0) rows.current?.scrollTo(markerIndex, 'start');
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

  const { onLoadOlder, onLoadNewer } = props;
  const hasMoreOlder = !!state?.hasMoreOlder;
  const nearTop = useCallback(() => {
    if (hasMoreOlder) onLoadOlder();
  }, [hasMoreOlder, onLoadOlder]);
  const nearBottom = useCallback(() => {
    if (detached) onLoadNewer?.();
  }, [detached, onLoadNewer]);
  const renderItem = (item: ChatItem) => {
    if (item.type === 'pin') return <PinSystemLine item={item} />;
    if (item.type === 'encryption') return <EncryptionSystemLine item={item} />;
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
  };

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
      <Rows
        key={`${channelId}:${state.epoch}`}
        handleRef={rows}
        items={items}
        header={<ListHeader hasMoreOlder={state.hasMoreOlder} loadingOlder={props.loadingOlder} intro={props.intro} />}
        initial={jumpIndex >= 0 ? jumpIndex : 'bottom'}
        follow={!detached}
        ownSend={lastPending}
        onNearTop={nearTop}
        onNearBottom={nearBottom}
        onAtBottomChange={changeBottom}
        onFirstVisible={setFirstVisible}
        renderItem={renderItem}
      />
      {marker && markerIndex >= 0 && firstVisible !== null && firstVisible > markerIndex && (
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
        <DeleteConfirm
          item={confirmDelete}
          onCancel={() => setConfirmDelete(null)}
          onDelete={() => {
            doDelete(confirmDelete);
            setConfirmDelete(null);
          }}
        />
      )}
    </div>
  );
}
