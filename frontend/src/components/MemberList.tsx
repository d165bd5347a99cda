import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { useLocation } from 'wouter';
import type { Member, PresenceStatus, Server } from '../api/types';
import { errorMessage } from '../api/http';
import { MAX_BAN_REASON_LENGTH } from '../api/rules.gen';
import { qk } from '../api/queryKeys';
import { displayName, usernameHint, useMembers } from '../app/queries';
import { useSetBlocked } from '../app/privacy';
import { useIsBlocked } from '../app/safety';
import { useApi, useMe } from '../app/services';
import { seedUsers, upsertChannel } from '../app/cache';
import { useRealtime } from '../realtime/RealtimeProvider';
import { useNotify } from './notices';
import { Avatar, Spinner } from './ui';
import { Modal } from './Modal';
import { ownStatus } from '../chat/status';
import { ProfileTrigger } from './ProfileCard';
import { Resizer, usePanelWidth } from './Resizer';
import { MEMBER_PANEL } from '../app/layout';

const ROLE_LABEL = { owner: 'Owner', admin: 'Admin', member: '' } as const;

function MemberRow({ member, status, server }: { member: Member; status: PresenceStatus; server: Server }) {
  const me = useMe();
  const api = useApi();
  const notify = useNotify();
  const [menu, setMenu] = useState(false);
  const [confirmKick, setConfirmKick] = useState(false);
  const [confirmBan, setConfirmBan] = useState(false);
  const [reason, setReason] = useState('');
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const isMe = member.user.id === me.id;
  const canKick = !isMe && member.role !== 'owner' && (server.role === 'owner' || (server.role === 'admin' && member.role === 'member'));
  const canRole = !isMe && server.role === 'owner' && member.role !== 'owner';
  const blocked = useIsBlocked(member.user.id);
  const kick = useMutation({
    mutationFn: () => api.kick(server.id, member.user.id),
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  const ban = useMutation({
    mutationFn: () => api.ban(server.id, member.user.id, reason.trim()),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: qk.bans(server.id) });
      notify(`${displayName(member.user)} was banned.`, 'success');
    },
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  const setBlocked = useSetBlocked((e) => notify(errorMessage(e), 'error'));
  const message = useMutation({
    mutationFn: () => api.openDM([member.user.id]),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      seedUsers(qc, channel.participants ?? []);
      if (!qc.getQueryData(qk.dms)) void qc.invalidateQueries({ queryKey: qk.dms });
      navigate(`/channels/@me/${channel.id}`);
    },
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  const role = useMutation({
    mutationFn: () => api.setRole(server.id, member.user.id, member.role === 'admin' ? 'member' : 'admin'),
    onError: (e) => notify(errorMessage(e), 'error'),
  });
  return (
    <li className={`member status-${status}`} data-testid="member-item" data-user-id={member.user.id} data-status={status}>
      <ProfileTrigger user={member.user} avatar>
        <Avatar user={member.user} size={32} status={status} />
      </ProfileTrigger>
      <ProfileTrigger user={member.user} className="member-name truncate">
        {displayName(member.user)}
        {usernameHint(member.user) && <span className="member-username"> {usernameHint(member.user)}</span>}
      </ProfileTrigger>
      {ROLE_LABEL[member.role] && <span className={`role-tag role-${member.role}`}>{ROLE_LABEL[member.role]}</span>}
      {!isMe && (
        <span className="member-menu-wrap">
          <button
            type="button"
            className="icon-button small member-menu-button"
            aria-label={`Manage ${displayName(member.user)}`}
            aria-expanded={menu}
            onClick={() => setMenu((m) => !m)}
          >
            ⋯
          </button>
          {menu && (
            <span className="menu member-menu" role="menu" tabIndex={-1} onMouseLeave={() => setMenu(false)}>
              {!blocked && (
                <button type="button" role="menuitem" className="menu-item" onClick={() => (setMenu(false), message.mutate())}>
                  Message
                </button>
              )}
              <button
                type="button"
                role="menuitem"
                className="menu-item"
                onClick={() => (setMenu(false), setBlocked.mutate({ user: member.user, block: !blocked }))}
                data-testid={blocked ? 'unblock-user' : 'block-user'}
              >
                {blocked ? 'Unblock' : 'Block'}
              </button>
              {canRole && (
                <button type="button" role="menuitem" className="menu-item" onClick={() => (setMenu(false), role.mutate())}>
                  {member.role === 'admin' ? 'Remove admin' : 'Make admin'}
                </button>
              )}
              {canKick && (
                <button type="button" role="menuitem" className="menu-item danger" onClick={() => (setMenu(false), setConfirmKick(true))}>
                  Kick {displayName(member.user)}
                </button>
              )}
              {canKick && (
                <button
                  type="button"
                  role="menuitem"
                  className="menu-item danger"
                  onClick={() => (setMenu(false), setConfirmBan(true))}
                  data-testid="ban-member"
                >
                  Ban {displayName(member.user)}
                </button>
              )}
            </span>
          )}
        </span>
      )}
      {confirmKick && (
        // A kick takes someone out of every channel at once: ask first (they can come back only with an invite).
        <Modal
          title={`Kick ${displayName(member.user)}`}
          onClose={() => setConfirmKick(false)}
          testId="confirm-kick-modal"
          footer={
            <>
              <button type="button" className="button ghost" onClick={() => setConfirmKick(false)}>
                Cancel
              </button>
              <button
                type="button"
                className="button danger"
                data-testid="confirm-kick"
                onClick={() => {
                  setConfirmKick(false);
                  kick.mutate();
                }}
              >
                Kick
              </button>
            </>
          }
        >
          <p>
            Remove {displayName(member.user)} from {server.name}? They lose access to its channels and can rejoin only with an
            invite.
          </p>
        </Modal>
      )}
      {confirmBan && (
        // A ban is a kick that sticks: no invite lets them back until an admin lifts it (Server settings → Bans).
        <Modal
          title={`Ban ${displayName(member.user)}`}
          onClose={() => setConfirmBan(false)}
          testId="confirm-ban-modal"
          footer={
            <>
              <button type="button" className="button ghost" onClick={() => setConfirmBan(false)}>
                Cancel
              </button>
              <button
                type="button"
                className="button danger"
                data-testid="confirm-ban"
                onClick={() => {
                  setConfirmBan(false);
                  ban.mutate();
                }}
              >
                Ban
              </button>
            </>
          }
        >
          <p>
            Ban {displayName(member.user)} from {server.name}? They are removed at once, the invites they made are revoked, and
            they cannot rejoin through any invite until the ban is lifted.
          </p>
          <label className="field">
            <span className="field-label">Reason (optional, seen by admins)</span>
            <input value={reason} maxLength={MAX_BAN_REASON_LENGTH} onChange={(e) => setReason(e.target.value)} data-testid="ban-reason" />
          </label>
        </Modal>
      )}
    </li>
  );
}

export function MemberList({ server }: { server: Server }) {
  const members = useMembers(server.id);
  const rt = useRealtime();
  const [width, setWidth] = usePanelWidth(MEMBER_PANEL);
  useSyncExternalStore(rt.presence.subscribe, rt.presence.getVersion);
  const all = (members.data?.pages ?? []).flatMap((p) => p.members);
  const ids = all.map((m) => m.user.id).join(',');
  useEffect(() => {
    if (ids) rt.presence.want(ids.split(','));
  }, [rt, ids]);

  const withStatus = all.map((m) => ({ m, status: (m.user.id === rt.meId ? ownStatus(rt.presence.chosenStatus(), rt.presence.isIdle(), true) : rt.presence.get(m.user.id)?.status ?? 'offline') as PresenceStatus }));
  const byName = (a: { m: Member }, b: { m: Member }) => displayName(a.m.user).localeCompare(displayName(b.m.user));
  // Invisible (myself, as only I can see) is listed with the offline members, as the others see me.
  const shownOffline = (s: PresenceStatus) => s === 'offline' || s === 'invisible';
  const online = withStatus.filter((x) => !shownOffline(x.status)).sort(byName);
  const offline = withStatus.filter((x) => shownOffline(x.status)).sort(byName);

  return (
    <aside className="member-list" id="member-list" aria-label="Members" data-testid="member-list" style={{ width }}>
      <Resizer spec={MEMBER_PANEL} width={width} onChange={setWidth} label="Resize the member list" side="left" controls="member-list" testId="member-resizer" />
      {members.isPending && <Spinner label="Loading members" />}
      {members.isError && <p className="column-error">{errorMessage(members.error)}</p>}
      {online.length > 0 && (
        <>
          <h2 className="member-group">Online — {online.length}</h2>
          <ul>
            {online.map(({ m, status }) => (
              <MemberRow key={m.user.id} member={m} status={status} server={server} />
            ))}
          </ul>
        </>
      )}
      {offline.length > 0 && (
        <>
          <h2 className="member-group">Offline — {offline.length}</h2>
          <ul>
            {offline.map(({ m, status }) => (
              <MemberRow key={m.user.id} member={m} status={status} server={server} />
            ))}
          </ul>
        </>
      )}
      {members.hasNextPage && (
        <button type="button" className="button ghost wide small" onClick={() => members.fetchNextPage()} disabled={members.isFetchingNextPage}>
          {members.isFetchingNextPage ? 'Loading…' : 'Load more members'}
        </button>
      )}
    </aside>
  );
}
