import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { qk } from '../../api/queryKeys';
import type { Invite, Server } from '../../api/types';
import { copyText } from '../../app/clipboard';
import { inviteLink } from '../../app/routes';
import { DEFAULT_INVITE_EXPIRY, expiresIn, INVITE_EXPIRY, INVITE_USES } from '../../app/invites';
import { useApi } from '../../app/services';
import { Spinner } from '../ui';
import { Modal } from '../Modal';
import { ErrorLine } from './ErrorLine';

export function InviteModal({ server, onClose }: { server: Server; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [expires, setExpires] = useState<number>(DEFAULT_INVITE_EXPIRY);
  const [maxUses, setMaxUses] = useState(0);
  const [editing, setEditing] = useState(false);
  const [copied, setCopied] = useState(false);
  // One invite per opening (7 days, unlimited); changed options make a new one only on "Generate a new link", so
  // browsing the options does not pile up invites (they are rate-limited and capped per server).
  const create = useMutation({
    mutationFn: (): Promise<Invite> => api.createInvite(server.id, { expiresInSeconds: expires, maxUses }),
    onSuccess: () => {
      setEditing(false);
      void qc.invalidateQueries({ queryKey: qk.invites(server.id) });
    },
  });
  const { mutate } = create;
  useEffect(() => {
    mutate();
  }, [mutate]);
  const link = create.data ? inviteLink(create.data.code) : '';

  async function copy() {
    if (!link) return;
    await copyText(link, document.querySelector<HTMLInputElement>('[data-testid="invite-link"]'));
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  }

  const inv = create.data;
  return (
    <Modal title={`Invite friends to ${server.name}`} onClose={onClose} testId="invite-modal">
      <div className="modal-form">
        <label className="field">
          <span className="field-label">Send a server invite link to a friend</span>
          <div className="copy-row">
            <input readOnly value={link} placeholder={create.isError ? '' : 'Creating invite…'} data-testid="invite-link" data-code={inv?.code} onFocus={(e) => e.target.select()} />
            <button type="button" className={`button ${copied ? 'success' : 'primary'}`} onClick={copy} disabled={!link} data-testid="copy-invite">
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
        </label>
        {inv && (
          <p className="muted small" data-testid="invite-terms">
            {inv.expiresAt ? `Expires ${expiresIn(inv.expiresAt)}` : 'Never expires'}
            {inv.maxUses ? `, ${inv.maxUses} use${inv.maxUses === 1 ? '' : 's'}` : ''}.{' '}
            {!editing && (
              <button type="button" className="link-button" onClick={() => setEditing(true)} data-testid="edit-invite">
                Edit invite link
              </button>
            )}
          </p>
        )}
        {editing && (
          <div className="row gap align-end">
            <label className="field compact">
              <span className="field-label">Expire after</span>
              <select value={expires} onChange={(e) => setExpires(Number(e.target.value))} data-testid="invite-expiry">
                {INVITE_EXPIRY.map((x) => (
                  <option key={x.value} value={x.value}>
                    {x.label}
                  </option>
                ))}
              </select>
            </label>
            <label className="field compact">
              <span className="field-label">Max uses</span>
              <select value={maxUses} onChange={(e) => setMaxUses(Number(e.target.value))} data-testid="invite-max-uses">
                {INVITE_USES.map((x) => (
                  <option key={x} value={x}>
                    {x === 0 ? 'No limit' : `${x} use${x === 1 ? '' : 's'}`}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="button primary" onClick={() => mutate()} disabled={create.isPending} data-testid="generate-invite">
              Generate a new link
            </button>
          </div>
        )}
        {create.isPending && <Spinner label="Creating invite" />}
        <ErrorLine error={create.error} />
      </div>
    </Modal>
  );
}
