import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { errorMessage, isApiError } from '../api/http';
import { qk } from '../api/queryKeys';
import { MAX_SERVER_NAME_LENGTH, MAX_TOPIC_LENGTH } from '../api/rules.gen';
import type { Invite, Server, TextChannel, User } from '../api/types';
import { MAX_DM_OTHERS, MIN_GROUP_OTHERS, mergeCandidates, toggleUser } from '../app/dmPicker';
import { displayName, useDMs, useServers } from '../app/queries';
import { inviteLink, parseInviteInput } from '../app/routes';
import { useApi, useMe } from '../app/services';
import { normalizeChannelName } from '../chat/channelName';
import { removeChannel, seedUsers, upsertChannel, upsertServer } from '../realtime/cache';
import { DEFAULT_INVITE_EXPIRY, expiresIn, INVITE_EXPIRY, INVITE_USES } from '../app/safety';
import { copyText } from './ServerSettings';
import { Avatar, Modal, Spinner } from './ui';

function ErrorLine({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="form-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}


export function CreateServerModal({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const me = useMe();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [name, setName] = useState(`${displayName(me)}'s server`);
  const create = useMutation({
    mutationFn: () => api.createServer(name.trim()),
    onSuccess: (server) => {
      upsertServer(qc, server);
      void qc.invalidateQueries({ queryKey: qk.servers });
      onClose();
      navigate(`/channels/${server.id}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  return (
    <Modal title="Create a server" onClose={onClose} testId="create-server-modal">
      <form onSubmit={submit} className="modal-form">
        <p className="muted">Your server is where you and your friends hang out. A #general channel comes with it.</p>
        <label className="field">
          <span className="field-label">Server name</span>
          <input value={name} maxLength={MAX_SERVER_NAME_LENGTH} onChange={(e) => setName(e.target.value)} data-testid="server-name-input" required />
        </label>
        <ErrorLine error={create.error} />
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!name.trim() || create.isPending} data-testid="create-server-submit">
            {create.isPending ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function JoinServerModal({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const code = parseInviteInput(input);
    if (!code) {
      setError('Enter an invite link or code.');
      return;
    }
    onClose();
    navigate(`/invite/${encodeURIComponent(code)}`);
  };
  return (
    <Modal title="Join a server" onClose={onClose} testId="join-server-modal">
      <form onSubmit={submit} className="modal-form">
        <p className="muted">Enter an invite below to join an existing server.</p>
        <label className="field">
          <span className="field-label">Invite link or code</span>
          <input
            value={input}
            onChange={(e) => setInput(e.target.value)}
            placeholder={`${window.location.origin}/invite/hTKzmak`}
            data-testid="join-invite-input"
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!input.trim()} data-testid="join-invite-submit">
            Continue
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function CreateChannelModal({ serverId, onClose }: { serverId: string; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const create = useMutation({
    mutationFn: () => api.createChannel(serverId, { name: normalizeChannelName(name), topic: topic.trim() || undefined }),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      onClose();
      navigate(`/channels/${serverId}/${channel.id}`);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (normalizeChannelName(name)) create.mutate();
  };
  return (
    <Modal title="Create channel" onClose={onClose} testId="create-channel-modal">
      <form onSubmit={submit} className="modal-form">
        <label className="field">
          <span className="field-label">Channel name</span>
          <div className="input-prefix">
            <span aria-hidden="true">#</span>
            <input
              value={name}
              maxLength={100}
              onChange={(e) => setName(e.target.value)}
              placeholder="new-channel"
              data-testid="channel-name-input"
              required
            />
          </div>
        </label>
        <label className="field">
          <span className="field-label">Topic (optional)</span>
          <input value={topic} maxLength={MAX_TOPIC_LENGTH} onChange={(e) => setTopic(e.target.value)} data-testid="channel-topic-input" />
        </label>
        <ErrorLine error={create.error} />
        <div className="modal-actions">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="button primary"
            disabled={!normalizeChannelName(name) || create.isPending}
            data-testid="create-channel-submit"
          >
            {create.isPending ? 'Creating…' : 'Create channel'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function EditChannelModal({ channel, onClose }: { channel: TextChannel; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [name, setName] = useState(channel.name);
  const [topic, setTopic] = useState(channel.topic ?? '');
  const [confirm, setConfirm] = useState(false);
  const save = useMutation({
    mutationFn: () => api.updateChannel(channel.id, { name: normalizeChannelName(name), topic: topic.trim() }),
    onSuccess: (c) => {
      upsertChannel(qc, c);
      onClose();
    },
  });
  const del = useMutation({
    mutationFn: () => api.deleteChannel(channel.id),
    onSuccess: () => {
      removeChannel(qc, channel);
      onClose();
    },
  });
  return (
    <Modal title={`Edit #${channel.name}`} onClose={onClose} testId="edit-channel-modal">
      <form
        className="modal-form"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <label className="field">
          <span className="field-label">Channel name</span>
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="field">
          <span className="field-label">Topic</span>
          <input value={topic} maxLength={MAX_TOPIC_LENGTH} onChange={(e) => setTopic(e.target.value)} />
        </label>
        <ErrorLine error={save.error ?? del.error} />
        <div className="modal-actions spread">
          {confirm ? (
            <button type="button" className="button danger" onClick={() => del.mutate()} disabled={del.isPending} data-testid="confirm-delete-channel">
              {del.isPending ? 'Deleting…' : 'Really delete?'}
            </button>
          ) : (
            <button type="button" className="button danger ghost" onClick={() => setConfirm(true)}>
              Delete channel
            </button>
          )}
          <button type="submit" className="button primary" disabled={!normalizeChannelName(name) || save.isPending}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

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

/** People the user already knows: members of their servers (first page of each, up to ten servers) and DM partners. */
function useKnownPeople(meId: string): User[] {
  const api = useApi();
  const servers = useServers();
  const dms = useDMs();
  const ids = (servers.data?.servers ?? []).slice(0, 10).map((s) => s.id);
  const members = useQueries({
    queries: ids.map((id) => ({
      queryKey: ['dmCandidates', id] as const,
      queryFn: () => api.members(id, undefined, 50),
      staleTime: 60_000,
    })),
  });
  return mergeCandidates(
    [...members.map((m) => m.data?.members.map((x) => x.user)), ...(dms.data?.channels ?? []).map((c) => c.participants ?? [])],
    meId,
  );
}

/**
 * A new conversation: click a person to message them (1:1, reopened if it exists), or tick 2–9 people and create a
 * group DM. Before any search it suggests people from the user's servers and conversations.
 */
export function NewDMModal({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const me = useMe();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [query, setQuery] = useState('');
  const [debounced, setDebounced] = useState('');
  const [selected, setSelected] = useState<User[]>([]);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(query.trim()), 250);
    return () => clearTimeout(t);
  }, [query]);
  const results = useQuery({
    queryKey: qk.userSearch(debounced),
    queryFn: () => api.searchUsers(debounced, 20),
    enabled: debounced.length > 0,
    staleTime: 30_000,
  });
  const known = useKnownPeople(me.id);
  const open = useMutation({
    mutationFn: (userIds: string[]) => api.openDM(userIds),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      seedUsers(qc, channel.participants ?? []);
      if (!qc.getQueryData(qk.dms)) void qc.invalidateQueries({ queryKey: qk.dms });
      onClose();
      navigate(`/channels/@me/${channel.id}`);
    },
  });
  const users = debounced ? (results.data?.users ?? []).filter((u) => u.id !== me.id) : known;
  const isSelected = (u: User) => selected.some((s) => s.id === u.id);
  const full = selected.length >= MAX_DM_OTHERS;
  const canGroup = selected.length >= MIN_GROUP_OTHERS && !open.isPending;
  return (
    <Modal title="Start a conversation" onClose={onClose} testId="new-dm-modal">
      <div className="modal-form">
        <label className="field">
          <span className="field-label">Find a user by username</span>
          <input
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="Type a username"
            autoComplete="off"
            data-testid="user-search-input"
          />
        </label>
        {selected.length > 0 && (
          <ul className="picked-users" aria-label="Selected for a group DM" data-testid="group-dm-selected">
            {selected.map((u) => (
              <li key={u.id} className="picked-user">
                <span className="truncate">{displayName(u)}</span>
                <button
                  type="button"
                  className="icon-button small"
                  aria-label={`Remove ${displayName(u)}`}
                  onClick={() => setSelected((sel) => toggleUser(sel, u))}
                >
                  ✕
                </button>
              </li>
            ))}
          </ul>
        )}
        {results.isFetching && <Spinner label="Searching" />}
        <ErrorLine error={results.error ?? open.error} />
        {debounced && results.isSuccess && users.length === 0 && <p className="muted">No users found.</p>}
        {!debounced && users.length > 0 && <p className="muted small">People from your servers and conversations</p>}
        <ul className="user-results" aria-label="Users">
          {users.map((u) => (
            <li key={u.id} className="user-row">
              <button
                type="button"
                className="user-result"
                onClick={() => open.mutate([u.id])}
                disabled={open.isPending}
                title={`Message ${displayName(u)}`}
                data-testid="user-search-result"
                data-user-id={u.id}
              >
                <Avatar user={u} size={32} />
                <span className="truncate strong">{displayName(u)}</span>
                <span className="truncate muted small">@{u.username}</span>
              </button>
              <label className="group-pick" title={`Add ${displayName(u)} to a group DM`}>
                <input
                  type="checkbox"
                  checked={isSelected(u)}
                  disabled={!isSelected(u) && full}
                  onChange={() => setSelected((sel) => toggleUser(sel, u))}
                  aria-label={`Add ${displayName(u)} to a group DM`}
                  data-testid="group-dm-pick"
                  data-user-id={u.id}
                />
              </label>
            </li>
          ))}
        </ul>
        {isApiError(open.error, 'forbidden') && <p className="muted small">You can't message this user.</p>}
        <div className="modal-actions spread">
          <span className="muted small" aria-live="polite">
            {full
              ? `${selected.length} people: the most a group DM can have besides you.`
              : selected.length >= MIN_GROUP_OTHERS
                ? `${selected.length} people selected.`
                : 'Tick 2–9 people for a group DM, or click someone to message them.'}
          </span>
          <button
            type="button"
            className="button primary"
            disabled={!canGroup}
            onClick={() => open.mutate(selected.map((u) => u.id))}
            data-testid="create-group-dm"
          >
            Create group DM
          </button>
        </div>
      </div>
    </Modal>
  );
}
