import { useState } from 'react';
import { Link } from 'wouter';
import type { DMChannel } from '../api/types';
import { dmOthers, dmTitle, sortDMs, useDMs } from '../app/queries';
import { useRouteIds } from '../app/routes';
import { useMe } from '../app/services';
import { usePresence } from '../realtime/RealtimeProvider';
import { errorMessage } from '../api/http';
import { Avatar, UnreadBadge } from './ui';
import { DMCloseButton, NewDMModal } from './lazy';
import { useChannelMuted } from '../app/settings';
import { showsUnread } from '../chat/notify';
import { MentionBadge } from './MentionBadge';

function DMItem({ channel, current }: { channel: DMChannel; current: boolean }) {
  const me = useMe();
  const others = dmOthers(channel, me.id);
  const solo = others.length === 1 && !channel.group ? others[0] : undefined;
  const presence = usePresence(solo?.id);
  const title = dmTitle(channel, me.id);
  const muted = useChannelMuted(channel.id, { type: 'dm' });
  const unread = !current && showsUnread(channel, muted);
  const mentions = current ? 0 : channel.mentionCount;
  return (
    <li className="dm-row">
      <Link
        to={`/channels/@me/${channel.id}`}
        className={`channel-item dm-item${unread ? ' unread' : ''}${muted ? ' muted-channel' : ''}`}
        aria-current={current ? 'page' : undefined}
        data-testid="dm-item"
        data-channel-id={channel.id}
        data-unread={unread ? 'true' : 'false'}
      >
        <Avatar
          user={solo ?? { id: channel.id, displayName: title, username: title, avatarUrl: '' }}
          size={32}
          status={solo ? (presence?.status ?? 'offline') : undefined}
        />
        <span className="dm-text">
          <span className="truncate">{title}</span>
          {(others.length > 1 || channel.group) && <span className="muted small">{others.length + 1} members</span>}
        </span>
        {mentions > 0 ? <MentionBadge count={mentions} /> : unread && <UnreadBadge count={channel.unreadCount} mentions={channel.mentionCount} />}
      </Link>
      <DMCloseButton channel={channel} current={current} />
    </li>
  );
}

/** The conversations, most recent first (the sidebar's list; on phones also the DM home's). */
export function DMConversations({ className, testId = 'dm-list' }: { className?: string; testId?: string }) {
  const dms = useDMs();
  const { channelId } = useRouteIds();
  const list = sortDMs(dms.data?.channels ?? []);
  return (
    <ul className={`channel-list${className ? ` ${className}` : ''}`} aria-label="Direct messages" data-testid={testId}>
      {list.map((c) => (
        <DMItem key={c.id} channel={c} current={c.id === channelId} />
      ))}
    </ul>
  );
}

export function DMColumn() {
  const dms = useDMs();
  const [open, setOpen] = useState(false);
  const list = sortDMs(dms.data?.channels ?? []);
  return (
    <>
      <div className="column-header">
        <button type="button" className="search-button" onClick={() => setOpen(true)} data-testid="dm-search-button">
          Find or start a conversation
        </button>
      </div>
      <div className="column-scroll">
        <div className="channel-group-header">
          <span>Direct messages</span>
          <button
            type="button"
            className="icon-button small"
            aria-label="Start a conversation"
            title="Start a conversation"
            onClick={() => setOpen(true)}
            data-testid="new-dm-button"
          >
            +
          </button>
        </div>
        {dms.isError && <p className="column-error">{errorMessage(dms.error)}</p>}
        <DMConversations />
        {dms.isSuccess && list.length === 0 && <p className="column-empty muted small">No conversations yet.</p>}
      </div>
      {open && <NewDMModal onClose={() => setOpen(false)} />}
    </>
  );
}
