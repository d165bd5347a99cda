import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { displayName } from '../app/queries';
import { useMe } from '../app/services';
import { useConnectionStatus, useRealtime } from '../realtime/RealtimeProvider';
import { Avatar } from './ui';
import './attachments.css';
import { showShortcuts } from './Shortcuts';
import { useStoredStatus } from '../app/settings';
import { ownStatus } from '../chat/status';
import { STATUS_LABEL } from './ProfileCard';
import { UserSettings } from './lazy';

export function UserPanel() {
  const me = useMe();
  const rt = useRealtime();
  const status = useConnectionStatus();
  const idle = useSyncExternalStore(rt.presence.subscribe, () => rt.presence.isIdle());
  const chosen = useSyncExternalStore(rt.presence.subscribe, () => rt.presence.chosenStatus());
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const own = ownStatus(chosen, idle, status === 'connected');
  // The settings (this device's first load, or another device's change) say what the user chose; until they are
  // loaded, the device's last choice (which the handshake carried) holds.
  const stored = useStoredStatus();
  useEffect(() => {
    if (stored) rt.presence.setChosen(stored);
  }, [rt, stored]);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !ref.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [open]);

  return (
    <div className="user-panel" ref={ref} data-testid="user-panel">
      <Avatar user={me} size={32} status={own} />
      <div className="user-panel-names">
        <span className="truncate strong" data-testid="current-user-name">
          {displayName(me)}
        </span>
        <span className="truncate muted small" data-testid="own-status" data-status={own}>
          {chosen === 'online' ? `@${me.username}` : STATUS_LABEL[chosen]}
        </span>
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label="Keyboard shortcuts"
        title="Keyboard shortcuts (Ctrl+/)"
        aria-keyshortcuts="Control+Slash"
        onClick={showShortcuts}
        data-testid="shortcuts-button"
      >
        <span aria-hidden="true" className="shortcuts-glyph">
          ?
        </span>
      </button>
      <button
        type="button"
        className="icon-button"
        aria-label="User settings"
        title="User settings"
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        data-testid="user-settings-button"
      >
        <svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true">
          <path
            fill="currentColor"
            d="M19.4 13a7.5 7.5 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.6 7.6 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.6 7.6 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.5 7.5 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.6 7.6 0 0 0 1.7 1L11 21h4l.4-2.9a7.6 7.6 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z"
            transform="translate(-1 0)"
          />
        </svg>
      </button>
      {open && (
        <div className="popover user-popover" role="dialog" aria-label="User settings" data-testid="user-settings">
          <UserSettings />
        </div>
      )}
    </div>
  );
}
