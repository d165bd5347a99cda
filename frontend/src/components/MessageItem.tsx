import { memo, useEffect, useId, useRef, useState, type KeyboardEvent, type RefObject } from 'react';
import type { ChatItem } from '../chat/messageStore';
import type { ReceiptStatus } from '../chat/receipts';
import { displayName, usernameHint, useUser } from '../app/queries';
import { Avatar } from './ui';
import { ProfileTrigger } from './ProfileCard';
import { EditBox, EncryptedText, MessageMenuList, MessageToolbar, ProfileCard, ReactionPicker } from './lazy';
import { MessageContent } from './MessageContent';
import { Attachments } from './Attachments';
import { ReactionBar } from './ReactionBar';
import { useMessageExtras } from './messageExtras';
import { ReplyQuote } from './ReplyQuote';
import { plaintextOf } from '../chat/plaintexts';
import { PinIcon } from './PinIcon';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}

export function formatStamp(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  const same = (a: Date, b: Date) => a.toDateString() === b.toDateString();
  if (same(d, now)) return `Today at ${timeFmt.format(d)}`;
  if (same(d, y)) return `Yesterday at ${timeFmt.format(d)}`;
  return `${d.toLocaleDateString()} ${timeFmt.format(d)}`;
}

const STATUS_TEXT: Record<ReceiptStatus, string> = {
  pending: 'Sending…',
  failed: 'Not sent',
  sent: 'Sent',
  delivered: 'Delivered',
  seen: 'Seen',
};

function StatusMark({ status }: { status: ReceiptStatus }) {
  const icon = status === 'sent' ? '✓' : status === 'delivered' || status === 'seen' ? '✓✓' : status === 'pending' ? '◷' : '!';
  return (
    <span className={`message-status status-${status}`} data-testid="message-status" data-status={status} title={STATUS_TEXT[status]}>
      <span aria-hidden="true">{icon}</span>
      <span className="sr-only">{STATUS_TEXT[status]}</span>
    </span>
  );
}

/** One entry of a message's actions menu. */
export interface MessageAction {
  label: string;
  danger?: boolean;
  testId: string;
  run: () => void;
}

export interface MessageItemProps {
  item: ChatItem;
  mine: boolean;
  /** Receipt status for own messages in DMs; undefined elsewhere. */
  status?: ReceiptStatus;
  editing: boolean;
  /** The message mentions me (directly, @here or @everyone): highlighted. */
  mentioned?: boolean;
  onStartEdit: (item: ChatItem) => void;
  onCancelEdit: () => void;
  onSaveEdit: (item: ChatItem, content: string) => void;
  onDelete: (item: ChatItem, skipConfirm: boolean) => void;
  onRetry: (item: ChatItem) => void;
  onDiscard: (item: ChatItem) => void;
  /** Adds or removes my reaction (absent: no reactions, e.g. in previews). */
  onReact?: (item: ChatItem, emoji: string, add: boolean) => void;
}

/**
 * The keyboard way to a message's actions (issue #16, item 6): one "More actions" button per own message (per stored
 * message where the list offers replies and pins, issue #15), in the Tab order (the toolbar shows while anything in
 * the message has focus). Enter, Space or ↓ opens the menu on its first item (↑ on the last); ↑/↓ (wrapping), Home
 * and End move; Enter picks; Esc closes and gives focus back to the button; Tab closes it and moves on. The open
 * menu, the edit box and the reaction picker are lazy parts (MessageActions.tsx, ReactionPicker.tsx): each takes the
 * focus when it mounts, so a key pressed before its chunk arrived takes effect when it does.
 */
function MessageMenu({
  buttonRef,
  actions,
}: {
  buttonRef: RefObject<HTMLButtonElement | null>;
  actions: MessageAction[];
}) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const menuId = useId();
  const n = actions.length;

  const openAt = (i: number) => {
    setActive(i);
    setOpen(true);
  };
  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };
  const onButtonKey = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      openAt(e.key === 'ArrowDown' ? 0 : n - 1);
    }
  };
  return (
    <div className="message-menu-wrap">
      <button
        ref={buttonRef}
        type="button"
        className="icon-button small"
        aria-label="More actions"
        title="More actions"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => (open ? setOpen(false) : openAt(0))}
        onKeyDown={onButtonKey}
        data-testid="message-menu-button"
      >
        <span aria-hidden="true">⋯</span>
      </button>
      {open && <MessageMenuList id={menuId} actions={actions} active={active} onActive={setActive} onClose={close} onLeave={() => setOpen(false)} buttonRef={buttonRef} />}
    </div>
  );
}

export const MessageItem = memo(function MessageItem(props: MessageItemProps) {
  const { item, mine, status, editing, mentioned } = props;
  const author = useUser(item.senderId);
  const name = displayName(author, item.state === 'sent' ? 'Unknown user' : 'You');
  const handle = usernameHint(author);
  const when = new Date(item.timestamp);
  const extras = useMessageExtras();
  const canAct = mine && item.state === 'sent' && !editing;
  // Replies and pins (issue #15), where the list provides them: on every stored message.
  const canReply = !!extras && item.state === 'sent' && !!item.id && !editing;
  const pinned = !!item.id && !!extras?.pinned.has(item.id);
  const canPin = canReply && !!extras?.canPin;
  const menuButton = useRef<HTMLButtonElement>(null);
  // An edit started from the menu gives focus back to the menu button when it ends (saved or cancelled).
  const editFromMenu = useRef(false);
  useEffect(() => {
    if (editing || !editFromMenu.current) return;
    editFromMenu.current = false;
    const a = document.activeElement;
    if (!a || a === document.body) menuButton.current?.focus();
  }, [editing]);
  const { onReact } = props;
  const canReact = !!onReact && item.state === 'sent' && !!item.id && !editing;
  const [pickerAnchor, setPickerAnchor] = useState<HTMLElement | null>(null);
  const [profileAnchor, setProfileAnchor] = useState<HTMLElement | null>(null);
  const toggle = (emoji: string, add: boolean) => onReact?.(item, emoji, add);
  const pick = (emoji: string) => {
    setPickerAnchor(null);
    const mineAlready = item.reactions?.some((r) => r.emoji === emoji && r.me);
    if (!mineAlready) onReact?.(item, emoji, true);
  };
  const closePicker = () => setPickerAnchor(null);
  const menuActions = [
    ...(canAct
      ? [
          {
            label: 'Edit message',
            testId: 'menu-edit-message',
            run: () => {
              editFromMenu.current = true;
              props.onStartEdit(item);
            },
          },
          { label: 'Delete message', danger: true, testId: 'menu-delete-message', run: () => props.onDelete(item, false) },
        ]
      : []),
    ...(canReply ? [{ label: 'Reply', testId: 'menu-reply', run: () => extras!.reply(item) }] : []),
    ...(canPin ? [{ label: pinned ? 'Unpin message' : 'Pin message', testId: 'menu-pin', run: () => extras!.setPinned(item.id!, !pinned) }] : []),
    // Last, so the own-message menu keeps Edit first and Delete second.
    ...(canReact ? [{ label: 'Add reaction', testId: 'menu-add-reaction', run: () => setPickerAnchor(menuButton.current) }] : []),
    // The keyboard way to the author's profile card (the name and avatar are mouse targets: one tab stop per message).
    ...(author ? [{ label: 'View profile', testId: 'menu-view-profile', run: () => setProfileAnchor(menuButton.current) }] : []),
  ];

  return (
    <div className={`message-wrap${item.groupStart ? ' group-start' : ''}`}>
      {item.dayStart && (
        <div className="day-divider" role="separator" aria-label={dayFmt.format(when)}>
          <span>{Number.isNaN(when.getTime()) ? '' : dayFmt.format(when)}</span>
        </div>
      )}
      <article
        className={`message${item.groupStart ? ' group-start' : ''} state-${item.state}${editing ? ' editing' : ''}${mentioned ? ' mentioned' : ''}${
          item.id && extras?.highlightId === item.id ? ' highlighted' : ''
        }${item.replyTo ? ' is-reply' : ''}`}
        data-testid="message-item"
        data-message-id={item.id ?? ''}
        data-nonce={item.nonce}
        data-state={item.state}
        data-author-id={item.senderId}
        data-mentioned={mentioned ? 'true' : undefined}
        aria-label={`${name}, ${formatStamp(item.timestamp)}`}
      >
        <div className="message-gutter">
          {item.groupStart ? (
            <ProfileTrigger user={author} avatar>
              <Avatar user={author} size={40} name={name} />
            </ProfileTrigger>
          ) : (
            <time className="hover-time" dateTime={item.timestamp} title={fullFmt.format(when)}>
              {formatTime(item.timestamp)}
            </time>
          )}
        </div>
        <div className="message-body">
          {item.replyTo && <ReplyQuote channelId={item.channelId} messageId={item.replyTo} />}
          {item.groupStart && (
            <header className="message-header">
              <ProfileTrigger user={author} className="message-author" testId="message-author" title={author ? `@${author.username}` : undefined} keyboard={false}>
                {name}
              </ProfileTrigger>
              {/* Anyone can take anyone's display name; the username is unique, so it is shown whenever it differs. */}
              {handle && (
                <span className="message-username" data-testid="message-username">
                  {handle}
                </span>
              )}
              <time className="message-time" dateTime={item.timestamp} title={Number.isNaN(when.getTime()) ? '' : fullFmt.format(when)}>
                {formatStamp(item.timestamp)}
              </time>
            </header>
          )}
          {editing ? (
            <EditBox initial={item.encrypted ? (plaintextOf(item) ?? '') : item.content} onSave={(s) => props.onSaveEdit(item, s)} onCancel={props.onCancelEdit} />
          ) : (
            <div className="message-line">
              {item.encrypted ? <EncryptedText item={item} /> : <MessageContent content={item.content} />}
              {item.editedAt && (
                <span className="edited" data-testid="message-edited" title={fullFmt.format(new Date(item.editedAt))}>
                  (edited)
                </span>
              )}
              {status && <StatusMark status={status} />}
              {pinned && (
                <span className="pin-marker" data-testid="pin-marker" title="Pinned">
                  <PinIcon size={14} />
                  <span className="sr-only">Pinned</span>
                </span>
              )}
            </div>
          )}
          {!editing && !item.encrypted && item.attachments && item.attachments.length > 0 && <Attachments items={item.attachments} />}
          {canReact && <ReactionBar reactions={item.reactions} onToggle={toggle} onAdd={setPickerAnchor} />}
          {item.state === 'failed' && (
            <div className="failed-row" role="alert">
              <span className="failed-text">{item.error || 'Message could not be sent.'}</span>
              <button type="button" className="link-button" onClick={() => props.onRetry(item)} data-testid="retry-button">
                Retry
              </button>
              <button type="button" className="link-button muted" onClick={() => props.onDiscard(item)} data-testid="discard-button">
                Discard
              </button>
            </div>
          )}
        </div>
        {(canAct || canReact || canReply) && (
          <div className="message-actions" role="group" aria-label="Message actions">
            {/* Mouse shortcuts (a lazy part, prefetched after the first paint: shown on hover); keyboard users get the
                same actions, announced as a menu, from "More actions". */}
            <MessageToolbar
              canReact={canReact}
              canReply={canReply}
              canPin={canPin}
              canAct={canAct}
              pinned={pinned}
              onReact={setPickerAnchor}
              onReply={() => extras!.reply(item)}
              onPin={() => extras!.setPinned(item.id!, !pinned)}
              onEdit={() => props.onStartEdit(item)}
              onDelete={(skipConfirm) => props.onDelete(item, skipConfirm)}
            />
            <MessageMenu buttonRef={menuButton} actions={menuActions} />
          </div>
        )}
        {pickerAnchor && <ReactionPicker anchor={pickerAnchor} onPick={pick} onClose={closePicker} />}
        {profileAnchor && author && <ProfileCard user={author} anchor={profileAnchor} onClose={() => setProfileAnchor(null)} />}
      </article>
    </div>
  );
});
