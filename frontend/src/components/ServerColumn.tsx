import { useEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import type { TextChannel } from '../api/types';
import { useChannels, useServer } from '../app/queries';
import { useRouteIds } from '../app/routes';
import { errorMessage } from '../api/http';
import { UnreadBadge } from './ui';
import { useNotificationSettings } from '../app/settings';
import { isChannelMuted, showsUnread } from '../chat/notify';
import { MentionBadge } from './MentionBadge';
import { CreateChannelModal, EditChannelModal, InviteModal, ServerMenu, ServerSettingsModal } from './lazy';
import { readCollapsed, visibleWhenCollapsed, writeCollapsed } from '../app/layout';

export type ModalKind = 'invite' | 'create-channel' | 'settings' | { edit: TextChannel } | null;

export function ServerColumn({ serverId }: { serverId: string }) {
  const server = useServer(serverId);
  const channels = useChannels(serverId);
  const { channelId } = useRouteIds();
  const [menuOpen, setMenuOpen] = useState(false);
  const [modal, setModal] = useState<ModalKind>(null);
  const menuRef = useRef<HTMLDivElement>(null);
  const s = server.data;
  const canManage = s?.role === 'owner' || s?.role === 'admin';
  const canInvite = canManage || s?.membersCanInvite !== false;
  const settings = useNotificationSettings();
  const [collapsedState, setCollapsedState] = useState(() => ({ serverId, collapsed: readCollapsed(serverId) }));
  // Per server: switching servers reads that server's choice.
  const collapsed = collapsedState.serverId === serverId ? collapsedState.collapsed : readCollapsed(serverId);
  const setCollapsed = (c: boolean) => {
    writeCollapsed(serverId, c);
    setCollapsedState({ serverId, collapsed: c });
  };
  const allChannels = channels.data?.channels ?? [];
  const shownChannels = collapsed
    ? visibleWhenCollapsed(allChannels, channelId, (c) => showsUnread(c, isChannelMuted(settings, c.id, { type: 'text', serverId })))
    : allChannels;

  // Esc or a click outside closes the menu (also while its chunk is still on its way).
  useEffect(() => {
    if (!menuOpen) return;
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !menuRef.current?.contains(e.target as Node)) setMenuOpen(false);
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [menuOpen]);

  const open = (m: ModalKind) => {
    setMenuOpen(false);
    setModal(m);
  };

  return (
    <>
      <div className="column-header server-header" ref={menuRef}>
        <button
          type="button"
          className="server-name-button"
          aria-haspopup="menu"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen((o) => !o)}
          data-testid="server-menu-button"
        >
          <span className="truncate" data-testid="server-name">
            {s?.name ?? (server.isError ? 'Server unavailable' : '…')}
          </span>
          <span aria-hidden="true">{menuOpen ? '✕' : '▾'}</span>
        </button>
        {menuOpen && s && (
          <ServerMenu server={s} canInvite={canInvite} canManage={canManage} onOpen={open} onClose={() => setMenuOpen(false)} />
        )}
      </div>
      <div className="column-scroll">
        <div className="channel-group-header">
          {/* Collapsed, the list keeps the open channel and the unread ones (as Discord's categories do). */}
          <button
            type="button"
            className="channel-group-toggle"
            aria-expanded={!collapsed}
            aria-controls="server-channel-list"
            onClick={() => setCollapsed(!collapsed)}
            data-testid="channel-group-toggle"
          >
            <span className="chevron" aria-hidden="true">
              ▾
            </span>
            Text channels
          </button>
          {canManage && (
            <button
              type="button"
              className="icon-button small"
              aria-label="Create channel"
              title="Create channel"
              onClick={() => open('create-channel')}
              data-testid="create-channel-button"
            >
              +
            </button>
          )}
        </div>
        {channels.isError && <p className="column-error">{errorMessage(channels.error)}</p>}
        <ul className="channel-list" id="server-channel-list" aria-label="Channels" data-testid="channel-list" data-collapsed={collapsed ? 'true' : 'false'}>
          {shownChannels.map((c) => {
            const current = c.id === channelId;
            const muted = isChannelMuted(settings, c.id, { type: 'text', serverId });
            const unread = !current && showsUnread(c, muted);
            const mentions = current ? 0 : c.mentionCount;
            return (
              <li key={c.id} className="channel-row">
                <Link
                  to={`/channels/${serverId}/${c.id}`}
                  className={`channel-item${unread ? ' unread' : ''}${muted ? ' muted-channel' : ''}`}
                  aria-current={current ? 'page' : undefined}
                  data-testid="channel-item"
                  data-channel-id={c.id}
                  data-unread={unread ? 'true' : 'false'}
                  data-muted={muted ? 'true' : undefined}
                >
                  <span className="hash" aria-hidden="true">
                    #
                  </span>
                  <span className="truncate">{c.name}</span>
                  {muted && <span className="sr-only"> (muted)</span>}
                  {mentions > 0 ? (
                    <MentionBadge count={mentions} />
                  ) : (
                    unread && <UnreadBadge count={c.unreadCount} mentions={c.mentionCount} />
                  )}
                </Link>
                {canManage && (
                  <button
                    type="button"
                    className="icon-button small channel-gear"
                    aria-label={`Edit channel ${c.name}`}
                    title="Edit channel"
                    onClick={() => open({ edit: c })}
                  >
                    ⚙
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      </div>
      {modal === 'invite' && s && <InviteModal server={s} onClose={() => setModal(null)} />}
      {modal === 'create-channel' && <CreateChannelModal serverId={serverId} onClose={() => setModal(null)} />}
      {modal === 'settings' && s && <ServerSettingsModal server={s} onClose={() => setModal(null)} />}
      {modal && typeof modal === 'object' && <EditChannelModal channel={modal.edit} onClose={() => setModal(null)} />}
    </>
  );
}
