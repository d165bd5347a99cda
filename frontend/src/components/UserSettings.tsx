// The user settings popover's contents (status, theme, profile, notifications, privacy, log out): a chunk of its
// own (components/lazy.tsx), loaded when the popover first opens.
import { useMutation } from '@tanstack/react-query';
import { useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import { errorMessage } from '../api/http';
import { uploadAvatar } from '../api/uploads';
import { MAX_DISPLAY_NAME_LENGTH } from '../api/rules.gen';
import { useApi, useMe, useServices } from '../app/services';
import { clearDrafts } from '../chat/drafts';
import { useRealtime } from '../realtime/RealtimeProvider';
import { useTheme, type ThemePreference } from '../theme/theme';
import { Avatar } from './ui';
import { NotificationSettingsSection } from './Notifications';
import { PrivacySection } from './PrivacySection';
import { useSaveSettings } from '../app/saveSettings';
import type { ChosenStatus } from '../api/types';
import { useNotify } from './notices';

/** The statuses a user can choose (the user panel's menu), with what each means. */
export const CHOSEN_STATUSES: { value: ChosenStatus; label: string; hint: string }[] = [
  { value: 'online', label: 'Online', hint: '' },
  { value: 'idle', label: 'Idle', hint: '' },
  { value: 'dnd', label: 'Do Not Disturb', hint: 'No desktop notifications or sounds' },
  { value: 'invisible', label: 'Invisible', hint: 'You appear offline, but can use Parley as usual' },
];

/** The presence the user chooses (saved in the settings, so their other tabs and devices follow). */
function StatusPicker() {
  const rt = useRealtime();
  const notify = useNotify();
  const chosen = useSyncExternalStore(rt.presence.subscribe, () => rt.presence.chosenStatus());
  const save = useSaveSettings((e) => notify(`Couldn't save your status: ${errorMessage(e)}`, 'error'));
  const pick = (status: ChosenStatus) => {
    rt.presence.setChosen(status);
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
        <input value={name} maxLength={MAX_DISPLAY_NAME_LENGTH} onChange={(e) => setName(e.target.value)} placeholder={me.username} />
      </label>
      <button type="submit" className="button small" disabled={save.isPending || name.trim() === (me.displayName ?? '')}>
        {save.isPending ? 'Saving…' : 'Save'}
      </button>
      {save.isError && <p className="form-error small">{errorMessage(save.error)}</p>}
    </form>
  );
}

export function UserSettings() {
  const me = useMe();
  const { auth } = useServices();
  return (
    <>
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
    </>
  );
}
