// A server's open menu (the server name's button in the channel column): invite, create a channel, mute, suppress
// @everyone, settings or leave. A lazy part (components/lazy.tsx), prefetched after the first paint; the column
// keeps the button and closes the menu on Esc or a click outside.
import type { Server } from '../api/types';
import { errorMessage } from '../api/http';
import { useNotificationSettings } from '../app/settings';
import { useSaveSettings } from '../app/saveSettings';
import { toggleId } from '../chat/notifyControls';
import { useNotify } from './notices';
import type { ModalKind } from './ServerColumn';

export function ServerMenu({
  server: s,
  canInvite,
  canManage,
  onOpen: open,
  onClose,
}: {
  server: Server;
  canInvite: boolean;
  canManage: boolean;
  onOpen: (m: ModalKind) => void;
  onClose: () => void;
}) {
  const serverId = s.id;
  const settings = useNotificationSettings();
  const notify = useNotify();
  const saveSettings = useSaveSettings((e) => notify(`Couldn't save notification settings: ${errorMessage(e)}`, 'error'));
  const serverMuted = settings.mutedServers.includes(serverId);
  const everyoneSuppressed = settings.suppressEveryone.includes(serverId);
  return (
    <div className="menu" role="menu" data-testid="server-menu">
      {canInvite && (
        <button type="button" role="menuitem" className="menu-item accent" onClick={() => open('invite')} data-testid="invite-button">
          Invite People
        </button>
      )}
      {canManage && (
        <button type="button" role="menuitem" className="menu-item" onClick={() => open('create-channel')} data-testid="menu-create-channel">
          Create Channel
        </button>
      )}
      <button
        type="button"
        role="menuitemcheckbox"
        aria-checked={serverMuted}
        className="menu-item"
        onClick={() => {
          onClose();
          saveSettings((st) => toggleId(st, 'mutedServers', serverId, !serverMuted));
        }}
        data-testid="mute-server-button"
      >
        {serverMuted ? 'Unmute Server' : 'Mute Server'}
      </button>
      <button
        type="button"
        role="menuitemcheckbox"
        aria-checked={everyoneSuppressed}
        className="menu-item"
        onClick={() => {
          onClose();
          saveSettings((st) => toggleId(st, 'suppressEveryone', serverId, !everyoneSuppressed));
        }}
        data-testid="suppress-everyone-button"
      >
        {everyoneSuppressed ? 'Allow @everyone and @here' : 'Suppress @everyone and @here'}
      </button>
      <button type="button" role="menuitem" className="menu-item" onClick={() => open('settings')} data-testid="server-settings-button">
        {canManage ? 'Server Settings' : 'Leave Server'}
      </button>
    </div>
  );
}
