import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useLocation } from 'wouter';
import { isApiError } from '../../api/http';
import { qk } from '../../api/queryKeys';
import type { User } from '../../api/types';
import { seedUsers, upsertChannel } from '../../app/cache';
import { MAX_DM_OTHERS, MIN_GROUP_OTHERS, mergeCandidates, toggleUser } from '../../app/dmPicker';
import { displayName, useDMs, useServers } from '../../app/queries';
import { useApi, useMe } from '../../app/services';
import { Avatar, Spinner } from '../ui';
import { Modal } from '../Modal';
import { ErrorLine } from './ErrorLine';

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
