import { useState } from 'react';
import { Link } from 'wouter';
import type { Server } from '../api/types';
import { useChannels, useDMs, useServers } from '../app/queries';
import { useRouteIds } from '../app/routes';
import { ServerIcon } from './ServerIcon';
import { useNotificationSettings } from '../app/settings';
import { isChannelMuted, showsUnread } from '../chat/notify';
import { CreateServerModal, JoinServerModal } from './lazy';

function RailItem({ server, active }: { server: Server; active: boolean }) {
  const channels = useChannels(server.id);
  const settings = useNotificationSettings();
  const list = channels.data?.channels ?? [];
  // Muted channels (or a muted server) show no unread mark; their mentions still count.
  const unread = list.some((c) => showsUnread(c, isChannelMuted(settings, c.id, { type: 'text', serverId: server.id })));
  const mentions = list.reduce((n, c) => n + (c.mentionCount || 0), 0);
  return (
    <li className={`rail-item${active ? ' active' : ''}${unread ? ' unread' : ''}`}>
      <span className="rail-pill" aria-hidden="true" />
      <Link
        to={`/channels/${server.id}`}
        className="rail-button"
        title={server.name}
        data-testid="server-item"
        data-server-id={server.id}
        aria-current={active ? 'page' : undefined}
      >
        {/* The name is the accessible name (the visible initials are an abbreviation of it, not a different label). */}
        <ServerIcon server={server} />
        <span className="sr-only">
          {server.name}
          {unread ? ' (unread)' : ''}
          {mentions > 0 ? `, ${mentions} mention${mentions === 1 ? '' : 's'}` : ''}
        </span>
      </Link>
      {mentions > 0 && (
        <span className="rail-badge" aria-hidden="true" data-testid="server-mention-badge" data-count={mentions}>
          {mentions > 99 ? '99+' : mentions}
        </span>
      )}
    </li>
  );
}

export function ServerRail() {
  const { serverId } = useRouteIds();
  const servers = useServers();
  const dms = useDMs();
  const settings = useNotificationSettings();
  const dmUnread = (dms.data?.channels ?? []).reduce(
    (n, c) => n + (showsUnread(c, isChannelMuted(settings, c.id, { type: 'dm' })) ? 1 : 0),
    0,
  );
  const [modal, setModal] = useState<'create' | 'join' | null>(null);
  const home = serverId === '@me';

  return (
    <div className="server-rail" data-testid="server-rail">
      <ul className="rail-list" aria-label="Servers">
        <li className={`rail-item${home ? ' active' : ''}`}>
          <span className="rail-pill" aria-hidden="true" />
          <Link
            to="/channels/@me"
            className="rail-button home"
            aria-label="Direct messages"
            title="Direct messages"
            data-testid="home-button"
            aria-current={home ? 'page' : undefined}
          >
            <svg width="26" height="26" viewBox="0 0 64 64" aria-hidden="true">
              <path
                d="M14 16h36a5 5 0 0 1 5 5v18a5 5 0 0 1-5 5H30l-11 8v-8h-5a5 5 0 0 1-5-5V21a5 5 0 0 1 5-5z"
                fill="currentColor"
              />
            </svg>
          </Link>
          {dmUnread > 0 && (
            <span className="rail-badge" data-testid="dm-unread-total">
              {dmUnread}
            </span>
          )}
        </li>
        <li className="rail-separator" aria-hidden="true" />
        {(servers.data?.servers ?? []).map((s) => (
          <RailItem key={s.id} server={s} active={s.id === serverId} />
        ))}
        <li className="rail-item">
          <button
            type="button"
            className="rail-button action"
            aria-label="Create a server"
            title="Create a server"
            onClick={() => setModal('create')}
            data-testid="create-server-button"
          >
            +
          </button>
        </li>
        <li className="rail-item">
          <button
            type="button"
            className="rail-button action"
            aria-label="Join a server"
            title="Join a server"
            onClick={() => setModal('join')}
            data-testid="join-server-button"
          >
            <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
              <path d="M12 3v12m0 0-5-5m5 5 5-5M4 20h16" stroke="currentColor" strokeWidth="2.4" fill="none" strokeLinecap="round" />
            </svg>
          </button>
        </li>
      </ul>
      {modal === 'create' && <CreateServerModal onClose={() => setModal(null)} />}
      {modal === 'join' && <JoinServerModal onClose={() => setModal(null)} />}
    </div>
  );
}
