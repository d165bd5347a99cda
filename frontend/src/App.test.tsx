import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from './api/auth';
import { AppRoutes } from './App';
import { createServices, ServicesProvider } from './app/services';
import { NoticeProvider } from './components/notices';
import { ThemeProvider } from './theme/theme';
import { FakeSocket, fakeSocketFactory } from './test/fakeSocket';
import { loggedIn, TestRouter } from './test/render';

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const me = { id: '42', username: 'alice', displayName: 'Alice', avatarUrl: '', createdAt: '', email: 'a@x.io' };

function mockBackend(extra: Record<string, unknown> = {}) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
    const key = `${init?.method ?? 'GET'} ${url}`;
    calls.push(key);
    if (key in extra) return json(200, extra[key]);
    if (key === 'POST /api/auth/login') {
      const body = JSON.parse(String(init?.body));
      if (body.password !== 'right') return json(401, { error: { code: 'invalid_credentials', message: 'wrong' } });
      return json(200, { user: me, accessToken: 'A1', refreshToken: 'R1', accessTokenExpiresAt: new Date(Date.now() + 900_000).toISOString() });
    }
    if (key === 'GET /api/servers') return json(200, { servers: [] });
    if (key === 'GET /api/dms') return json(200, { channels: [] });
    if (key.startsWith('GET /api/presence')) return json(200, { presence: [] });
    return json(404, { error: { code: 'not_found', message: 'nope' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

function renderApp(route: string, userId: string | null = null) {
  const services = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
  const sock = new FakeSocket();
  const factory = fakeSocketFactory(sock);
  render(
    <ServicesProvider services={services}>
      <QueryClientProvider client={services.queryClient}>
        <ThemeProvider userId={userId}>
          <NoticeProvider>
            <TestRouter route={route}>
              <AppRoutes socketFactory={factory} />
            </TestRouter>
          </NoticeProvider>
        </ThemeProvider>
      </QueryClientProvider>
    </ServicesProvider>,
  );
  return { services, sock };
}

describe('App', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends logged-out users to the login page', async () => {
    mockBackend();
    renderApp('/channels/@me');
    expect(await screen.findByRole('heading', { name: 'Welcome back!' })).toBeTruthy();
  });

  it('logs in, lands on the DM home, and shows the connection banner until the socket connects', async () => {
    mockBackend();
    const user = userEvent.setup();
    const { sock } = renderApp('/login');
    await user.type(await screen.findByLabelText('Username or email'), 'alice');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByTestId('login-submit'));
    expect((await screen.findByTestId('auth-error')).textContent).toMatch(/wrong username/i);

    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'right');
    await user.click(screen.getByTestId('login-submit'));
    expect(await screen.findByTestId('dm-home')).toBeTruthy();
    expect(JSON.parse(localStorage.getItem(SESSION_KEY)!).refreshToken).toBe('R1');
    expect(screen.getByTestId('current-user-name').textContent).toBe('Alice');

    const banner = screen.getByTestId('connection-banner');
    expect(banner.getAttribute('aria-live')).toBe('polite');
    expect(banner.textContent).toMatch(/connecting/i);
    await waitFor(() => expect(sock.lastAuth).toEqual({ token: 'A1', status: 'online' }));
    sock.serverConnect();
    await waitFor(() => expect(screen.getByTestId('connection-banner').textContent).toBe(''));
    expect(screen.getByTestId('connection-banner').getAttribute('data-state')).toBe('connected');
    sock.drop();
    await waitFor(() => expect(screen.getByTestId('connection-banner').textContent).toMatch(/reconnecting/i));
  });

  it('shows the session-expired message after a forced logout', async () => {
    mockBackend();
    loggedIn('42');
    const { services } = renderApp('/channels/@me', '42');
    await screen.findByTestId('dm-home');
    services.auth.logout('Your session has expired. Please log in again.', false);
    expect((await screen.findByTestId('auth-message')).textContent).toBe('Your session has expired. Please log in again.');
  });

  it('theme switch is remembered per user', async () => {
    mockBackend();
    loggedIn('42');
    const user = userEvent.setup();
    renderApp('/channels/@me', '42');
    await user.click(await screen.findByTestId('user-settings-button'));
    await user.click(await screen.findByTestId('theme-option-light')); // the settings are a lazy part
    expect(localStorage.getItem('parley.theme.42')).toBe('light');
    expect(document.documentElement.dataset.theme).toBe('light');
    expect(screen.getByTestId('theme-option-light').getAttribute('aria-checked')).toBe('true');
    await user.click(screen.getByTestId('theme-option-dark'));
    expect(document.documentElement.dataset.theme).toBe('dark');
  });

  it('invite route shows a preview to logged-out users', async () => {
    mockBackend({ 'GET /api/invites/abc123': { code: 'abc123', server: { id: '9', name: 'Cool Club', memberCount: 3 }, expiresAt: null } });
    renderApp('/invite/abc123');
    expect((await screen.findByTestId('invite-server-name')).textContent).toBe('Cool Club');
    expect(screen.getByTestId('invite-login').getAttribute('href')).toBe('/login?next=%2Finvite%2Fabc123');
  });

  it('an invite to a server you are already in says so and opens it (issue #16 item 12)', async () => {
    const server = { id: '9', name: 'Cool Club', ownerId: '1', role: 'member', createdAt: '' };
    const { calls } = mockBackend({
      'GET /api/invites/abc123': { code: 'abc123', server: { id: '9', name: 'Cool Club', memberCount: 3 }, expiresAt: null },
      'GET /api/servers': { servers: [server] },
    });
    loggedIn('42');
    renderApp('/invite/abc123', '42');
    const open = await screen.findByTestId('invite-open-server');
    expect(open.textContent).toBe('Open server');
    expect(open.getAttribute('href')).toBe('/channels/9');
    expect(screen.getByTestId('invite-already-member').textContent).toMatch(/already a member/);
    expect(screen.queryByTestId('invite-join')).toBeNull();
    expect(calls).not.toContain('POST /api/invites/abc123/join');
  });

  it('an invite to a server you are not in offers to accept it', async () => {
    mockBackend({ 'GET /api/invites/abc123': { code: 'abc123', server: { id: '9', name: 'Cool Club', memberCount: 3 }, expiresAt: null } });
    loggedIn('42');
    renderApp('/invite/abc123', '42');
    await waitFor(() => expect((screen.getByTestId('invite-join') as HTMLButtonElement).disabled).toBe(false));
    expect(screen.getByTestId('invite-join').textContent).toBe('Accept invite');
    expect(screen.queryByTestId('invite-open-server')).toBeNull();
  });

  it('registration shows every field error at once, without asking the server (issue #16 item 12)', async () => {
    const { calls } = mockBackend();
    const user = userEvent.setup();
    renderApp('/register');
    await user.type(await screen.findByTestId('register-username'), 'x');
    await user.type(screen.getByTestId('register-email'), 'not-an-email');
    await user.type(screen.getByTestId('register-password'), 'short');
    await user.click(screen.getByTestId('register-submit'));
    const errors = document.querySelectorAll('.field-error');
    expect([...errors].map((e) => e.textContent)).toEqual([
      " — 3-32 characters: letters, digits, '_', '.' or '-'",
      ' — not a valid email address',
      ' — 8-128 characters',
    ]);
    expect(screen.getByTestId('register-username').getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.includes('/api/auth/register'))).toEqual([]);
    // Fixing one field clears only its error on the next submit.
    await user.clear(screen.getByTestId('register-password'));
    await user.type(screen.getByTestId('register-password'), 'long enough password');
    await user.click(screen.getByTestId('register-submit'));
    expect(document.querySelectorAll('.field-error')).toHaveLength(2);
  });

  it('a server link without access shows "no access" and does not ask again and again (issue #16 item 3)', async () => {
    const { calls } = mockBackend();
    loggedIn('42');
    renderApp('/channels/123/456', '42');
    expect((await screen.findByTestId('no-access')).textContent).toMatch(/You don't have access to this server/);
    await new Promise((r) => setTimeout(r, 500));
    expect(screen.getByTestId('no-access')).toBeTruthy();
    // One answer is enough: 404 is not retried, and mounting another observer does not refetch it.
    expect(calls.filter((c) => c === 'GET /api/servers/123/channels')).toHaveLength(1);
    expect(screen.getByTestId('no-access-home').getAttribute('href')).toBe('/channels/@me');
  });

  it('unknown routes redirect', async () => {
    mockBackend();
    renderApp('/nowhere');
    expect(await screen.findByRole('heading', { name: 'Welcome back!' })).toBeTruthy();
  });
});
