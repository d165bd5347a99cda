import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useLocation } from 'wouter';
import { uploadServerIcon } from '../api/uploads';
import { errorMessage } from '../api/http';
import { MAX_SERVER_NAME_LENGTH } from '../api/rules.gen';
import { qk } from '../api/queryKeys';
import type { Server } from '../api/types';
import { displayName } from '../app/queries';
import { inviteLink } from '../app/routes';
import { expiresIn, inviteState, usesLabel } from '../app/invites';
import { useApi, useServices } from '../app/services';
import { copyText } from '../app/clipboard';
import { removeServer, upsertServer } from '../app/cache';
import { useNotify } from './notices';
import { Avatar, Spinner } from './ui';
import { Modal } from './Modal';
import { ServerIcon } from './ServerIcon';
import './safety.css';

type Tab = 'overview' | 'invites' | 'bans';
const TABS: { id: Tab; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'invites', label: 'Invites' },
  { id: 'bans', label: 'Bans' },
];

function Overview({ server, onClose }: { server: Server; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const notify = useNotify();
  const [name, setName] = useState(server.name);
  const [confirm, setConfirm] = useState(false);
  const canManage = server.role === 'owner' || server.role === 'admin';
  const isOwner = server.role === 'owner';
  const rename = useMutation({
    mutationFn: () => api.renameServer(server.id, name.trim()),
    onSuccess: (s) => {
      upsertServer(qc, s);
      onClose();
    },
  });
  const setInvites = useMutation({
    mutationFn: (allowed: boolean) => api.updateServer(server.id, { membersCanInvite: allowed }),
    onSuccess: (s) => upsertServer(qc, s),
  });
  const { auth } = useServices();
  const iconInput = useRef<HTMLInputElement>(null);
  const icon = useMutation({
    mutationFn: async (file: File | null) => {
      if (!file) return api.clearServerIcon(server.id);
      const token = await auth.getAccessToken();
      if (!token) throw new Error('You are not logged in.');
      return uploadServerIcon(server.id, file, token);
    },
    onSuccess: (s) => upsertServer(qc, s),
  });
  const leaveOrDelete = useMutation({
    mutationFn: () => (isOwner ? api.deleteServer(server.id) : api.leaveServer(server.id)),
    onSuccess: () => {
      removeServer(qc, server.id);
      onClose();
      notify(isOwner ? `"${server.name}" was deleted.` : `You left "${server.name}".`);
      navigate('/channels/@me', { replace: true });
    },
  });
  return (
    <div className="modal-form">
      {canManage && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim()) rename.mutate();
          }}
          className="row gap align-end"
        >
          <label className="field grow">
            <span className="field-label">Server name</span>
            <input value={name} maxLength={MAX_SERVER_NAME_LENGTH} onChange={(e) => setName(e.target.value)} />
          </label>
          <button type="submit" className="button primary" disabled={!name.trim() || name.trim() === server.name || rename.isPending}>
            Save
          </button>
        </form>
      )}
      {canManage && (
        <div className="avatar-picker">
          <ServerIcon server={server} />
          <button type="button" className="button small secondary" onClick={() => iconInput.current?.click()} disabled={icon.isPending} data-testid="server-icon-change">
            {icon.isPending ? 'Uploading…' : 'Change icon'}
          </button>
          {server.iconUrl && (
            <button type="button" className="link-button" onClick={() => icon.mutate(null)} disabled={icon.isPending} data-testid="server-icon-remove">
              Remove
            </button>
          )}
          <input
            ref={iconInput}
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            hidden
            data-testid="server-icon-input"
            onChange={(e) => {
              const f = e.target.files?.[0];
              e.target.value = '';
              if (f) icon.mutate(f);
            }}
          />
        </div>
      )}
      {canManage && (
        <label className="check-row">
          <input
            type="checkbox"
            checked={server.membersCanInvite !== false}
            disabled={setInvites.isPending}
            onChange={(e) => setInvites.mutate(e.target.checked)}
            data-testid="members-can-invite"
          />
          <span>
            Members can create invites
            <span className="muted small block">Owners and admins always can. Turn off to decide yourselves who gets in.</span>
          </span>
        </label>
      )}
      {!isOwner && <p className="muted">You won't be able to rejoin unless you are re-invited.</p>}
      <p className="form-error" role="alert" hidden={!(rename.error ?? setInvites.error ?? icon.error ?? leaveOrDelete.error)}>
        {errorMessage(rename.error ?? setInvites.error ?? icon.error ?? leaveOrDelete.error)}
      </p>
      <div className="modal-actions spread">
        {confirm ? (
          <button
            type="button"
            className="button danger"
            onClick={() => leaveOrDelete.mutate()}
            disabled={leaveOrDelete.isPending}
            data-testid="confirm-leave-delete"
          >
            {isOwner ? 'Yes, delete this server' : 'Yes, leave'}
          </button>
        ) : (
          <button type="button" className="button danger ghost" onClick={() => setConfirm(true)} data-testid="leave-delete-server">
            {isOwner ? 'Delete server' : 'Leave server'}
          </button>
        )}
        <button type="button" className="button ghost" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

function InvitesTab({ server }: { server: Server }) {
  const api = useApi();
  const qc = useQueryClient();
  const notify = useNotify();
  const [copied, setCopied] = useState<string | null>(null);
  const invites = useQuery({ queryKey: qk.invites(server.id), queryFn: () => api.invites(server.id), staleTime: 0 });
  const revoke = useMutation({
    mutationFn: (code: string) => api.revokeInvite(server.id, code),
    onSuccess: (_r, code) => {
      qc.setQueryData(qk.invites(server.id), (d: typeof invites.data) => (d ? { invites: d.invites.filter((i) => i.code !== code) } : d));
      notify('Invite revoked: its link no longer works.', 'success');
    },
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  const list = invites.data?.invites ?? [];
  return (
    <div className="modal-form">
      <p className="muted small">Every invite link of this server. Revoke one and it stops working at once.</p>
      {invites.isPending && <Spinner label="Loading invites" />}
      {invites.isError && <p className="form-error">{errorMessage(invites.error)}</p>}
      {invites.isSuccess && list.length === 0 && <p className="muted">No invites yet.</p>}
      <ul className="safety-list" aria-label="Invites" data-testid="invite-list">
        {list.map((inv) => {
          const state = inviteState(inv);
          return (
            <li key={inv.code} className={`safety-row${state === 'active' ? '' : ' dead'}`} data-testid="invite-row" data-code={inv.code}>
              <div className="safety-main">
                <code className="invite-code">{inv.code}</code>
                <span className="muted small">
                  by {inv.creator ? displayName(inv.creator) : 'a deleted user'} · {usesLabel(inv)} use{inv.uses === 1 && inv.maxUses === null ? '' : 's'} ·{' '}
                  {state === 'active' ? `expires ${expiresIn(inv.expiresAt)}` : state}
                </span>
              </div>
              {state === 'active' && (
                <button
                  type="button"
                  className="button small ghost"
                  onClick={() => void copyText(inviteLink(inv.code)).then(() => setCopied(inv.code))}
                  aria-label={`Copy invite link ${inv.code}`}
                >
                  {copied === inv.code ? 'Copied' : 'Copy'}
                </button>
              )}
              <button
                type="button"
                className="button small danger ghost"
                onClick={() => revoke.mutate(inv.code)}
                disabled={revoke.isPending}
                aria-label={`Revoke invite ${inv.code}`}
                data-testid="revoke-invite"
              >
                Revoke
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function BansTab({ server }: { server: Server }) {
  const api = useApi();
  const qc = useQueryClient();
  const notify = useNotify();
  const bans = useQuery({ queryKey: qk.bans(server.id), queryFn: () => api.bans(server.id), staleTime: 0 });
  const unban = useMutation({
    mutationFn: (userId: string) => api.unban(server.id, userId),
    onSuccess: (_r, userId) => {
      qc.setQueryData(qk.bans(server.id), (d: typeof bans.data) => (d ? { bans: d.bans.filter((b) => b.user.id !== userId) } : d));
      notify('Ban lifted: they can join again with an invite.', 'success');
    },
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  const list = bans.data?.bans ?? [];
  return (
    <div className="modal-form">
      <p className="muted small">Banned users cannot rejoin through any invite. Ban someone from the member list.</p>
      {bans.isPending && <Spinner label="Loading bans" />}
      {bans.isError && <p className="form-error">{errorMessage(bans.error)}</p>}
      {bans.isSuccess && list.length === 0 && <p className="muted">Nobody is banned.</p>}
      <ul className="safety-list" aria-label="Banned users" data-testid="ban-list">
        {list.map((b) => (
          <li key={b.user.id} className="safety-row" data-testid="ban-row" data-user-id={b.user.id}>
            <Avatar user={b.user} size={32} />
            <div className="safety-main">
              <span className="truncate strong">{displayName(b.user)}</span>
              <span className="muted small truncate">{b.reason ? `Reason: ${b.reason}` : 'No reason given'}</span>
            </div>
            <button
              type="button"
              className="button small ghost"
              onClick={() => unban.mutate(b.user.id)}
              disabled={unban.isPending}
              aria-label={`Unban ${displayName(b.user)}`}
              data-testid="unban"
            >
              Unban
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Server settings: name, who may invite, the invite list and the bans (owners and admins); leave or delete. */
export function ServerSettingsModal({ server, onClose }: { server: Server; onClose: () => void }) {
  const canManage = server.role === 'owner' || server.role === 'admin';
  const [tab, setTab] = useState<Tab>('overview');
  return (
    <Modal title={canManage ? 'Server settings' : `Leave ${server.name}?`} onClose={onClose} testId="server-settings-modal">
      {canManage && (
        <div className="settings-tabs" role="tablist" aria-label="Server settings">
          {TABS.map((t) => (
            <button
              key={t.id}
              type="button"
              role="tab"
              aria-selected={tab === t.id}
              className={`segment${tab === t.id ? ' selected' : ''}`}
              onClick={() => setTab(t.id)}
              data-testid={`settings-tab-${t.id}`}
            >
              {t.label}
            </button>
          ))}
        </div>
      )}
      {tab === 'overview' && <Overview server={server} onClose={onClose} />}
      {tab === 'invites' && <InvitesTab server={server} />}
      {tab === 'bans' && <BansTab server={server} />}
    </Modal>
  );
}
