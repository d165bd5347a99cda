// The quick switcher (Ctrl+K) and the shortcut list (Ctrl+/): loaded when first opened (components/lazy.tsx).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useState, type KeyboardEvent as ReactKeyboardEvent } from 'react';
import { useLocation } from 'wouter';
import { errorMessage } from '../api/http';
import { qk } from '../api/queryKeys';
import type { Id, Member, Server, TextChannel } from '../api/types';
import { dmOthers, dmTitle, displayName, sortDMs, useDMs, useServers } from '../app/queries';
import { useApi, useMe } from '../app/services';
import { useNotificationSettings } from '../app/settings';
import { rankSwitch, SHORTCUTS, type SwitchItem } from '../app/switch';
import { isChannelMuted, showsUnread } from '../chat/notify';
import { seedUsers, upsertChannel } from '../app/cache';
import { useNotify } from './notices';
import { Modal } from './Modal';
import './shell.css';

export function ShortcutList({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testId="shortcut-list">
      {/* Scrolls on a small screen: focusable, so the keyboard can scroll it too. */}
      {/* eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex -- a scrollable region needs keyboard access (axe scrollable-region-focusable) */}
      <div className="shortcut-scroll" tabIndex={0} role="region" aria-label="Shortcuts">
      <table className="shortcut-table">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.action}>
              <th scope="row">
                {s.keys.map((k, i) => (
                  <span key={k}>
                    {i > 0 && ' + '}
                    <kbd>{k}</kbd>
                  </span>
                ))}
              </th>
              <td>{s.action}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </Modal>
  );
}

const KIND_LABEL = { channel: 'Channel', dm: 'Direct message', server: 'Server', person: 'Person' } as const;

/** Everything the switcher can go to, from what the app has already loaded (no request per keystroke). */
function useSwitchItems(): SwitchItem[] {
  const qc = useQueryClient();
  const me = useMe();
  const servers = useServers();
  const dms = useDMs();
  const settings = useNotificationSettings();
  return useMemo(() => {
    const items: SwitchItem[] = [];
    const list: Server[] = servers.data?.servers ?? [];
    for (const s of list) {
      const chans = qc.getQueryData<{ channels: TextChannel[] }>(qk.channels(s.id))?.channels ?? [];
      for (const c of chans) {
        const muted = isChannelMuted(settings, c.id, { type: 'text', serverId: s.id });
        items.push({ kind: 'channel', key: `channel:${c.id}`, label: c.name, detail: s.name, path: `/channels/${s.id}/${c.id}`, unread: showsUnread(c, muted) });
      }
    }
    const people = new Map<Id, { label: string; username: string }>();
    for (const c of sortDMs(dms.data?.channels ?? [])) {
      const others = dmOthers(c, me.id);
      const solo = others.length === 1 && !c.group ? others[0] : undefined;
      items.push({
        kind: 'dm',
        key: `dm:${c.id}`,
        label: dmTitle(c, me.id),
        detail: solo?.username,
        path: `/channels/@me/${c.id}`,
        userId: solo?.id,
        unread: showsUnread(c, isChannelMuted(settings, c.id, { type: 'dm' })),
      });
      others.forEach((u) => people.set(u.id, { label: displayName(u), username: u.username }));
    }
    for (const s of list) {
      items.push({ kind: 'server', key: `server:${s.id}`, label: s.name, path: `/channels/${s.id}` });
      const pages = qc.getQueryData<{ pages: { members: Member[] }[] }>(qk.members(s.id))?.pages ?? [];
      const more = qc.getQueryData<{ members: Member[] }>(['dmCandidates', s.id])?.members ?? [];
      for (const m of [...pages.flatMap((p) => p.members), ...more]) {
        if (m.user.id !== me.id) people.set(m.user.id, { label: displayName(m.user), username: m.user.username });
      }
    }
    for (const [id, p] of people) items.push({ kind: 'person', key: `person:${id}`, label: p.label, detail: p.username, userId: id });
    return items;
  }, [qc, me.id, servers.data, dms.data, settings]);
}

export function QuickSwitcher({ onClose }: { onClose: () => void }) {
  const [, navigate] = useLocation();
  const api = useApi();
  const qc = useQueryClient();
  const notify = useNotify();
  const me = useMe();
  const local = useSwitchItems();
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  // People not met yet: the user search (display name or username), once typing pauses.
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setDebounced(query.trim().replace(/^@/, '')), 250);
    return () => clearTimeout(t);
  }, [query]);
  const search = useQuery({
    queryKey: qk.userSearch(debounced),
    queryFn: () => api.searchUsers(debounced, 10),
    enabled: debounced.length >= 2,
    staleTime: 30_000,
  });
  const items = useMemo(() => {
    const known = new Set(local.filter((i) => i.kind === 'person').map((i) => i.userId));
    const found: SwitchItem[] = (search.data?.users ?? [])
      .filter((u) => u.id !== me.id && !known.has(u.id))
      .map((u) => ({ kind: 'person', key: `person:${u.id}`, label: displayName(u), detail: u.username, userId: u.id }));
    return [...local, ...found];
  }, [local, search.data, me.id]);
  const results = useMemo(() => rankSwitch(items, query), [items, query]);
  const listId = useId();
  const at = Math.min(active, Math.max(results.length - 1, 0));
  const openDM = useMutation({
    mutationFn: (userId: Id) => api.openDM([userId]),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      seedUsers(qc, channel.participants ?? []);
      if (!qc.getQueryData(qk.dms)) void qc.invalidateQueries({ queryKey: qk.dms });
      onClose();
      navigate(`/channels/@me/${channel.id}`);
    },
    onError: (e) => notify(`Couldn't open the conversation: ${errorMessage(e)}`, 'error'),
  });
  const choose = (item: SwitchItem | undefined) => {
    if (!item) return;
    if (item.path) {
      onClose();
      navigate(item.path);
    } else if (item.userId) openDM.mutate(item.userId);
  };
  const onKeyDown = (e: ReactKeyboardEvent<HTMLInputElement>) => {
    const n = results.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (n) setActive((at + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      choose(results[at]);
    }
  };
  const optionId = (i: number) => `${listId}-${i}`;
  return (
    <Modal title="Quick switcher" onClose={onClose} testId="quick-switcher">
      <input
        className="switcher-input"
        type="text"
        role="combobox"
        aria-expanded="true"
        aria-controls={listId}
        aria-activedescendant={results.length ? optionId(at) : undefined}
        aria-autocomplete="list"
        aria-label="Where would you like to go?"
        placeholder="Where would you like to go?"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        autoComplete="off"
        spellCheck={false}
        data-testid="switcher-input"
      />
      <ul className="switcher-list" role="listbox" id={listId} aria-label="Results" data-testid="switcher-results">
        {results.map((r, i) => (
          // eslint-disable-next-line jsx-a11y/click-events-have-key-events -- the keyboard way is ↑/↓ and Enter in the combobox
          <li
            key={r.key}
            id={optionId(i)}
            role="option"
            aria-selected={i === at}
            className={`switcher-item${i === at ? ' active' : ''}`}
            onMouseMove={() => setActive(i)}
            onClick={() => choose(r)}
            data-testid="switcher-item"
            data-kind={r.kind}
          >
            <span className="switcher-icon" aria-hidden="true">
              {r.kind === 'channel' ? '#' : r.kind === 'server' ? '◆' : '@'}
            </span>
            <span className="truncate">{r.label}</span>
            {r.detail && <span className="muted small truncate switcher-detail">{r.kind === 'channel' ? r.detail : `@${r.detail}`}</span>}
            {r.unread && <span className="switcher-unread" aria-label="unread" />}
            <span className="sr-only">, {KIND_LABEL[r.kind]}</span>
          </li>
        ))}
        {results.length === 0 && (
          <li className="muted small switcher-empty" role="presentation">
            Nothing matches “{query}”.
          </li>
        )}
      </ul>
      <p className="muted small switcher-hint">↑ ↓ to choose · Enter to go · Esc to close</p>
    </Modal>
  );
}
