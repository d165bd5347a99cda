// Server settings (invites, bans, who may invite) and the invite dialog against a mocked REST API.
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Server } from '../api/types';
import { expiresIn, inviteState, usesLabel } from '../app/invites';
import { loggedIn, renderWithServices } from '../test/render';
import { NoticeProvider } from './notices';
import { ServerSettingsModal } from './ServerSettings';
import { InviteModal } from './modals/InviteModal';

configure({ asyncUtilTimeout: 5000 });

const json = (status: number, body: unknown) =>
  status === 204 ? new Response(null, { status }) : new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const server: Server = { id: '1', name: 'Guild', ownerId: 'me', role: 'owner', memberCount: 3, createdAt: '', membersCanInvite: true };
const bob = { id: '7', username: 'bob', displayName: 'Bob', avatarUrl: '', createdAt: '' };
const future = new Date(Date.now() + 3 * 86400_000).toISOString();
const past = new Date(Date.now() - 60_000).toISOString();

function backend() {
  const calls: { key: string; body?: unknown }[] = [];
  let invites = [
    { code: 'live1', serverId: '1', maxUses: 10, uses: 3, expiresAt: future, createdAt: '', creator: bob },
    { code: 'old1', serverId: '1', maxUses: null, uses: 0, expiresAt: past, createdAt: '', creator: null },
  ];
  let made = 0;
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      const key = `${init?.method ?? 'GET'} ${url}`;
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ key, body });
      if (key === 'GET /api/servers/1/invites') return json(200, { invites });
      if (key.startsWith('DELETE /api/servers/1/invites/')) {
        invites = invites.filter((i) => !key.endsWith(`/${i.code}`));
        return json(204, null);
      }
      if (key === 'GET /api/servers/1/bans') return json(200, { bans: [{ user: bob, reason: 'spam', bannedBy: 'me', createdAt: '' }] });
      if (key === 'DELETE /api/servers/1/bans/7') return json(204, null);
      if (key === 'PATCH /api/servers/1') return json(200, { ...server, ...body });
      if (key === 'POST /api/servers/1/invites') {
        made++;
        const exp = body.expiresInSeconds ? new Date(Date.now() + body.expiresInSeconds * 1000).toISOString() : null;
        return json(201, { code: `new${made}`, serverId: '1', maxUses: body.maxUses || null, uses: 0, expiresAt: exp, createdAt: '' });
      }
      return json(404, { error: { code: 'not_found', message: 'nope' } });
    }),
  );
  return { calls, made: () => made };
}

describe('server settings', () => {
  beforeEach(() => loggedIn());
  afterEach(() => {
    vi.unstubAllGlobals();
    localStorage.clear();
  });

  it('lists invites with creator, uses and expiry, and revokes one', async () => {
    const { calls } = backend();
    renderWithServices(
      <NoticeProvider>
        <ServerSettingsModal server={server} onClose={() => undefined} />
      </NoticeProvider>,
    );
    await userEvent.click(screen.getByTestId('settings-tab-invites'));
    const rows = await screen.findAllByTestId('invite-row');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('live1');
    expect(rows[0].textContent).toContain('by Bob');
    expect(rows[0].textContent).toContain('3 / 10');
    expect(rows[0].textContent).toMatch(/expires in 3 days/);
    expect(rows[1].textContent).toContain('by a deleted user');
    expect(rows[1].textContent).toContain('expired');
    await userEvent.click(within(rows[0]).getByTestId('revoke-invite'));
    await waitFor(() => expect(screen.getAllByTestId('invite-row')).toHaveLength(1));
    expect(calls.some((c) => c.key === 'DELETE /api/servers/1/invites/live1')).toBe(true);
  });

  it('lists bans with the reason and lifts one', async () => {
    const { calls } = backend();
    renderWithServices(
      <NoticeProvider>
        <ServerSettingsModal server={server} onClose={() => undefined} />
      </NoticeProvider>,
    );
    await userEvent.click(screen.getByTestId('settings-tab-bans'));
    const row = await screen.findByTestId('ban-row');
    expect(row.textContent).toContain('Bob');
    expect(row.textContent).toContain('Reason: spam');
    await userEvent.click(within(row).getByTestId('unban'));
    await waitFor(() => expect(screen.queryByTestId('ban-row')).toBeNull());
    expect(calls.some((c) => c.key === 'DELETE /api/servers/1/bans/7')).toBe(true);
  });

  it('turns member invites off', async () => {
    const { calls } = backend();
    renderWithServices(
      <NoticeProvider>
        <ServerSettingsModal server={server} onClose={() => undefined} />
      </NoticeProvider>,
    );
    await userEvent.click(screen.getByTestId('members-can-invite'));
    await waitFor(() => expect(calls.find((c) => c.key === 'PATCH /api/servers/1')?.body).toEqual({ membersCanInvite: false }));
  });

  it('shows a plain member only the way out', () => {
    backend();
    renderWithServices(
      <NoticeProvider>
        <ServerSettingsModal server={{ ...server, role: 'member' }} onClose={() => undefined} />
      </NoticeProvider>,
    );
    expect(screen.queryByTestId('settings-tab-invites')).toBeNull();
    expect(screen.queryByTestId('members-can-invite')).toBeNull();
    expect(screen.getByTestId('leave-delete-server').textContent).toContain('Leave server');
  });
});

describe('invite dialog', () => {
  beforeEach(() => loggedIn());
  afterEach(() => {
    vi.unstubAllGlobals();
    localStorage.clear();
  });

  it('makes one 7-day invite when opened, and a new one only on "Generate a new link"', async () => {
    const { calls, made } = backend();
    renderWithServices(<InviteModal server={server} onClose={() => undefined} />);
    await waitFor(() => expect(screen.getByTestId('invite-link').getAttribute('data-code')).toBe('new1'));
    expect(calls.find((c) => c.key === 'POST /api/servers/1/invites')?.body).toEqual({ expiresInSeconds: 7 * 86400, maxUses: 0 });
    expect(screen.getByTestId('invite-terms').textContent).toMatch(/Expires in 7 days/);
    await userEvent.click(screen.getByTestId('edit-invite'));
    await userEvent.selectOptions(screen.getByTestId('invite-expiry'), 'Never');
    await userEvent.selectOptions(screen.getByTestId('invite-max-uses'), '1 use');
    expect(made()).toBe(1); // browsing options creates nothing
    await userEvent.click(screen.getByTestId('generate-invite'));
    await waitFor(() => expect(screen.getByTestId('invite-link').getAttribute('data-code')).toBe('new2'));
    expect(calls.filter((c) => c.key === 'POST /api/servers/1/invites')[1].body).toEqual({ expiresInSeconds: 0, maxUses: 1 });
    expect(screen.getByTestId('invite-terms').textContent).toContain('Never expires, 1 use.');
  });
});

describe('invite helpers', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  it('tells active, expired and used-up invites apart', () => {
    expect(inviteState({ expiresAt: null, maxUses: null, uses: 99 }, now)).toBe('active');
    expect(inviteState({ expiresAt: '2026-12-06T11:59:59Z', maxUses: null, uses: 0 }, now)).toBe('expired');
    expect(inviteState({ expiresAt: null, maxUses: 2, uses: 2 }, now)).toBe('used up');
  });
  it('names the time left', () => {
    expect(expiresIn(null, now)).toBe('never');
    expect(expiresIn('2026-12-06T12:00:30Z', now)).toBe('in 1 minute');
    expect(expiresIn('2026-12-06T12:45:00Z', now)).toBe('in 45 minutes');
    expect(expiresIn('2026-12-06T18:00:00Z', now)).toBe('in 6 hours');
    expect(expiresIn('2026-12-13T12:00:00Z', now)).toBe('in 7 days');
    expect(expiresIn('2026-12-06T11:00:00Z', now)).toBe('expired');
    expect(usesLabel({ maxUses: null, uses: 4 })).toBe('4');
    expect(usesLabel({ maxUses: 10, uses: 4 })).toBe('4 / 10');
  });
});
