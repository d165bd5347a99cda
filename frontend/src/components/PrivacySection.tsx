// The user settings' "Privacy & safety" section: who may start a DM, and the blocked users. A lazy part
// (src/components/lazy.tsx): the settings popover is opened rarely, and the chat screen's JavaScript has a ceiling.
import { errorMessage } from '../api/http';
import type { DMPolicy } from '../api/types';
import { displayName } from '../app/queries';
import { usePrivacy, useSavePrivacy, useSetBlocked } from '../app/privacy';
import { useBlocked } from '../app/safety';
import { useNotify } from './notices';
import './safety.css';

export function PrivacySection() {
  const notify = useNotify();
  const privacy = usePrivacy();
  const save = useSavePrivacy((e) => notify(`Couldn't save: ${errorMessage(e)}`, 'error'));
  const blocked = useBlocked();
  const setBlocked = useSetBlocked((e) => notify(errorMessage(e), 'error'));
  const policy = save.isPending && save.variables ? save.variables.allowDMsFrom : privacy.data?.allowDMsFrom;
  const options: { value: DMPolicy; label: string }[] = [
    { value: 'server_members', label: 'Server members' },
    { value: 'everyone', label: 'Everyone' },
  ];
  return (
    <div className="popover-section" data-testid="privacy-settings">
      <div className="popover-title">Privacy &amp; safety</div>
      <div className="field-label" id="dm-policy-label">
        Who can start a DM with you
      </div>
      <div className="theme-switch two" role="radiogroup" aria-labelledby="dm-policy-label">
        {options.map((o) => (
          <button
            key={o.value}
            type="button"
            role="radio"
            aria-checked={policy === o.value}
            className={`segment${policy === o.value ? ' selected' : ''}`}
            onClick={() => save.mutate({ allowDMsFrom: o.value })}
            disabled={!privacy.data}
            data-testid={`dm-policy-${o.value}`}
          >
            {o.label}
          </button>
        ))}
      </div>
      <p className="muted small">People you already have a conversation with can always write to you, unless you block them.</p>
      <div className="field-label">Blocked users</div>
      {blocked.length === 0 ? (
        <p className="muted small">Nobody. Block someone from the member list or a DM's ⋯ menu.</p>
      ) : (
        <ul className="safety-list" aria-label="Blocked users" data-testid="blocked-list">
          {blocked.map((u) => (
            <li key={u.id} className="safety-row">
              <span className="safety-main truncate">{displayName(u)}</span>
              <button type="button" className="button small ghost" onClick={() => setBlocked.mutate({ user: u, block: false })} aria-label={`Unblock ${displayName(u)}`}>
                Unblock
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
