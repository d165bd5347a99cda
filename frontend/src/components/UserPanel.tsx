import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { errorMessage } from '../api/http';
import { uploadAvatar } from '../api/files';
import { displayName } from '../app/queries';
import { useApi, useMe, useServices } from '../app/services';
import { clearDrafts } from '../chat/drafts';
import { useConnectionStatus, useRealtime } from '../realtime/RealtimeProvider';
import { useTheme, type ThemePreference } from '../theme/theme';
import { Avatar } from './ui';
import './attachments.css';
import { NotificationSettingsSection } from './Notifications';
import { useSyncExternalStore } from 'react';
import { showShortcuts } from './Shortcuts';
import { useSaveSettings, useStoredStatus } from '../app/settings';
import { CHOSEN_STATUSES, ownStatus } from '../chat/status';
import type { ChosenStatus } from '../api/types';
import { useNotify } from './notices';
import { STATUS_LABEL } from './ProfileCard';
import { PrivacySection } from './lazy';

/** The presence the user chooses (saved in the settings, so their other tabs and devices follow). */
function StatusPicker() {
  const rt = useRealtime();
  const notify = useNotify();
  const chosen = useSyncExternalStore(rt.presence.subscribe, () => rt.chosenStatus());
  const save = useSaveSettings((e) => notify(`Couldn't save your status: ${errorMessage(e)}`, 'error'));
  const pick = (status: ChosenStatus) => {
    rt.setChosenStatus(status);
    save((s) => (s.status === status ? s : { ...s, status }));
  };
  return (
    <div className="status-picker" role="radiogroup" aria-label="Status" data-testid="status-picker">
      {CHOSEN_STATUSES.map((o) => (
        <button
          key={o.value}
          type="button"
          role="radio"
          aria-checked={chosen === o.value}
          className={`status-option${chosen === o.value ? ' selected' : ''}`}
          onClick={() => pick(o.value)}
          data-testid={`status-option-${o.value}`}
        >
          <span className={`presence-dot inline presence-${o.value}`} aria-hidden="true" />
          <span className="status-option-text">
            <span>{o.label}</span>
            {o.hint && <span className="muted small">{o.hint}</span>}
          </span>
        </button>
      ))}
    </div>
  );
}

const THEMES: { value: ThemePreference; label: string }[] = [
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
  { value: 'system', label: 'System' },
];

export function ThemeSwitch() {
  const { preference, setPreference } = useTheme();
  return (
    <div className="theme-switch" role="radiogroup" aria-label="Theme" data-testid="theme-switch" data-theme-preference={preference}>
      {THEMES.map((t) => (
        <button
          key={t.value}
          type="button"
          role="radio"
          aria-checked={preference === t.value}
          className={`segment${preference === t.value ? ' selected' : ''}`}
          onClick={() => setPreference(t.value)}
          data-testid={`theme-option-${t.value}`}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

function ProfileForm() {
  const me = useMe();
  const api = useApi();
  const { auth } = useServices();
  const [name, setName] = useState(me.displayName ?? '');
  const save = useMutation({
    mutationFn: () => api.updateMe({ displayName: name.trim() }),
    onSuccess: (user) => auth.updateUser(user),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const avatarInput = useRef<HTMLInputElement>(null);
  const avatar = useMutation({
    mutationFn: async (file: File | null) => {
      if (!file) return api.clearAvatar();
      const token = await auth.getAccessToken();
      if (!token) throw new Error('You are not logged in.');
      return uploadAvatar(file, token);
    },
    onSuccess: (user) => auth.updateUser(user),
  });
  return (
    <form className="profile-form" onSubmit={submit}>
      <div className="avatar-picker">
        <Avatar user={me} size={48} />
        <button type="button" className="button small secondary" onClick={() => avatarInput.current?.click()} disabled={avatar.isPending} data-testid="avatar-change">
          {avatar.isPending ? 'Uploading…' : 'Change avatar'}
        </button>
        {me.avatarUrl && (
          <button type="button" className="link-button" onClick={() => avatar.mutate(null)} disabled={avatar.isPending} data-testid="avatar-remove">
            Remove
          </button>
        )}
        <input
          ref={avatarInput}
          type="file"
          accept="image/png,image/jpeg,image/gif,image/webp"
          hidden
          data-testid="avatar-input"
          onChange={(e) => {
            const f = e.target.files?.[0];
            e.target.value = '';
            if (f) avatar.mutate(f);
          }}
        />
      </div>
      {avatar.isError && <p className="form-error small" role="alert">{errorMessage(avatar.error)}</p>}
      <label className="field compact">
        <span className="field-label">Display name</span>
        <input value={name} maxLength={64} onChange={(e) => setName(e.target.value)} placeholder={me.username} />
      </label>
      <button type="submit" className="button small" disabled={save.isPending || name.trim() === (me.displayName ?? '')}>
        {save.isPending ? 'Saving…' : 'Save'}
      </button>
      {save.isError && <p className="form-error small">{errorMessage(save.error)}</p>}
    </form>
  );
}

export function UserPanel() {
  const me = useMe();
  const rt = useRealtime();
  const { auth } = useServices();
  const status = useConnectionStatus();
  const idle = useSyncExternalStore(rt.presence.subscribe, () => rt.isIdle());
  const chosen = useSyncExternalStore(rt.presence.subscribe, () => rt.chosenStatus());
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const own = ownStatus(chosen, idle, status === 'connected');
  // The settings (this device's first load, or another device's change) say what the user chose; until they are
  // loaded, the device's last choice (which the handshake carried) holds.
  const stored = useStoredStatus();
  useEffect(() => {
    if (stored) rt.setChosenStatus(stored);
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
          <div className="popover-section">
            <div className="popover-title">Status</div>
            <StatusPicker />
          </div>
          <div className="popover-section">
            <div className="popover-title">Appearance</div>
            <ThemeSwitch />
          </div>
          <div className="popover-section">
            <div className="popover-title">Profile</div>
            <ProfileForm />
          </div>
          <NotificationSettingsSection />
          <PrivacySection />
          <div className="popover-section">
            <button
              type="button"
              className="button danger wide"
              onClick={() => {
                clearDrafts(me.id);
                auth.logout();
              }}
              data-testid="logout-button"
            >
              Log out
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
