// The notification layer in the running app (fake socket, mocked REST): the tab title, desktop notifications when
// the tab is hidden, mutes, the permission prompt and the settings section.
import { QueryClientProvider } from '@tanstack/react-query';
import { act, configure, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setPlaintext } from '../chat/plaintexts';
import { AuthManager } from '../api/auth';
import { AppRoutes } from '../App';
import { createServices, ServicesProvider } from '../app/services';
import { DEFAULT_SETTINGS } from '../chat/notify';
import { PROMPT_DISMISSED_KEY } from '../chat/notifyControls';
import { NoticeProvider } from './notices';
import { ThemeProvider } from '../theme/theme';
import { FakeSocket, fakeSocketFactory } from '../test/fakeSocket';
import { msg } from '../test/fixtures';
import { loggedIn, TestRouter } from '../test/render';

// The chat screen is a lazy chunk; with every test file running at once, it can take more than a second to load.
configure({ asyncUtilTimeout: 5000 });

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const bob = { id: '7', username: 'bob', displayName: 'Bob', avatarUrl: '', createdAt: '' };
const chan = (id: string, name: string, over = {}) => ({
  id,
  serverId: '1',
  name,
  topic: '',
  type: 'text',
  createdAt: '',
  lastMessageId: '100',
  lastMessageAt: null,
  unreadCount: 0,
  mentionCount: 0,
  ...over,
});

function backend(settings: object = DEFAULT_SETTINGS, channels = [chan('10', 'general'), chan('11', 'random')]) {
  const puts: unknown[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      const key = `${init?.method ?? 'GET'} ${url}`;
      if (key === 'GET /api/servers') return json(200, { servers: [{ id: '1', name: 'Guild', ownerId: '7', role: 'member', memberCount: 2, createdAt: '' }] });
      if (key === 'GET /api/servers/1/channels') return json(200, { channels });
      if (key === 'GET /api/dms') return json(200, { channels: [] });
      if (key === 'GET /api/me/settings') return json(200, settings);
      if (key === 'PUT /api/me/settings') {
        const body = JSON.parse(String(init?.body));
        puts.push(body);
        return json(200, body);
      }
      if (key === 'GET /api/users/7') return json(200, bob);
      if (key.startsWith('GET /api/presence')) return json(200, { presence: [] });
      return json(404, { error: { code: 'not_found', message: 'nope' } });
    }),
  );
  return { puts };
}

/** Records every `new Notification(...)`; permission as given. */
function stubNotifications(permission: NotificationPermission) {
  const shown: { title: string; options?: NotificationOptions; instance: { onclick: (() => void) | null; close: () => void } }[] = [];
  const requestPermission = vi.fn(async () => 'granted' as NotificationPermission);
  class FakeNotification {
    static permission = permission;
    static requestPermission = requestPermission;
    onclick: (() => void) | null = null;
    close = vi.fn();
    constructor(title: string, options?: NotificationOptions) {
      shown.push({ title, options, instance: this });
    }
  }
  vi.stubGlobal('Notification', FakeNotification);
  return { shown, requestPermission };
}

function renderApp(route: string) {
  loggedIn('42');
  const services = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
  const sock = new FakeSocket();
  render(
    <ServicesProvider services={services}>
      <QueryClientProvider client={services.queryClient}>
        <ThemeProvider userId="42">
          <NoticeProvider>
            <TestRouter route={route}>
              <AppRoutes socketFactory={fakeSocketFactory(sock)} />
            </TestRouter>
          </NoticeProvider>
        </ThemeProvider>
      </QueryClientProvider>
    </ServicesProvider>,
  );
  return { services, sock };
}

let hidden = false;
beforeEach(() => {
  hidden = false;
  vi.spyOn(document, 'visibilityState', 'get').mockImplementation(() => (hidden ? 'hidden' : 'visible'));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  document.title = 'Parley';
});

async function connected(route = '/channels/@me') {
  const app = renderApp(route);
  await screen.findByTestId('server-rail');
  await waitFor(() => expect(app.sock.lastAuth).toBeTruthy());
  act(() => app.sock.serverConnect());
  await screen.findAllByTestId('server-item');
  await waitFor(() => expect(app.services.queryClient.getQueryData(['channels', '1'])).toBeTruthy());
  await waitFor(() => expect(app.services.queryClient.getQueryData(['settings'])).toBeTruthy());
  return app;
}

describe('Notifications', () => {
  it('the tab title counts unread mentions; the server icon and channel show them; reading clears them', async () => {
    stubNotifications('granted');
    backend(DEFAULT_SETTINGS, [chan('10', 'general', { mentionCount: 2, unreadCount: 2 }), chan('11', 'random')]);
    const { sock } = await connected();
    await waitFor(() => expect(document.title).toBe('(2) Parley'));
    expect(screen.getByTestId('server-mention-badge').textContent).toBe('2');
    act(() => sock.fire('message:new', msg('200', { channelId: '11', senderId: '7', content: 'hey <@42>', mentions: ['42'] })));
    await waitFor(() => expect(document.title).toBe('(3) Parley'));
    expect(screen.getByTestId('server-mention-badge').textContent).toBe('3');
    act(() => sock.fire('unread:update', { channelId: '10', unreadCount: 0, mentionCount: 0, lastReadId: '100' }));
    await waitFor(() => expect(document.title).toBe('(1) Parley'));
  });

  it('a mention while the tab is hidden shows a desktop notification that opens the channel', async () => {
    const { shown } = stubNotifications('granted');
    backend();
    const { sock } = await connected();
    hidden = true;
    act(() => sock.fire('message:new', msg('200', { channelId: '11', senderId: '7', content: 'look  <#10>, <@42>', mentions: ['42'] })));
    await waitFor(() => expect(shown).toHaveLength(1));
    expect(shown[0].title).toBe('Bob (#random, Guild)');
    expect(shown[0].options?.body).toBe('look #general, @Me Myself');
    expect(shown[0].options?.tag).toBe('parley:11');
    hidden = false;
    act(() => shown[0].instance.onclick!());
    await waitFor(() => expect(screen.getByTestId('chat-title').textContent).toBe('#random'));
    expect(shown[0].instance.close).toHaveBeenCalled();
  });

  it('no notification while the tab is visible, without permission, or for a muted channel without a mention', async () => {
    const { shown } = stubNotifications('granted');
    backend({ ...DEFAULT_SETTINGS, desktop: 'all', mutedChannels: ['11'] });
    const { sock } = await connected('/channels/1/10');
    act(() => sock.fire('message:new', msg('200', { channelId: '10', senderId: '7', content: 'visible tab' })));
    hidden = true;
    act(() => sock.fire('message:new', msg('201', { channelId: '11', senderId: '7', content: 'muted' })));
    act(() => sock.fire('message:new', msg('202', { channelId: '10', senderId: '7', content: 'all messages' })));
    act(() => sock.fire('message:new', msg('203', { channelId: '11', senderId: '7', content: 'muted, but <@42>', mentions: ['42'] })));
    act(() => sock.fire('message:new', msg('204', { channelId: '555', senderId: '7', content: 'a DM' })));
    await waitFor(() => expect(shown.map((s) => s.options?.body)).toEqual(['all messages', 'muted, but @Me Myself', 'a DM']));
    // The muted channel shows no unread badge, but its mention.
    const random = (await screen.findByText('random')).closest('a')!;
    expect(random.getAttribute('data-muted')).toBe('true');
    expect(random.querySelector('[data-testid="mention-badge"]')?.textContent).toBe('1');
  });

  it('an encrypted DM message notifies with the text this browser decrypted, else "Encrypted message", never base64', async () => {
    const { shown } = stubNotifications('granted');
    backend({ ...DEFAULT_SETTINGS, desktop: 'all' });
    const { sock } = await connected();
    hidden = true;
    const sealed = btoa('\x00\x01an MLS private message with its own tag, number one');
    const known = btoa('\x00\x01an MLS private message with its own tag, number two');
    setPlaintext(known, 'meet at <@42> the quince tree');
    act(() => sock.fire('message:new', msg('300', { channelId: '555', senderId: '7', content: sealed, encrypted: true })));
    act(() => sock.fire('message:new', msg('301', { channelId: '555', senderId: '7', content: known, encrypted: true })));
    await waitFor(() => expect(shown).toHaveLength(2));
    expect(shown.map((n) => n.options?.body)).toEqual(['Encrypted message', 'meet at @Me Myself the quince tree']);
  });

  it('asks for the permission from a prompt, not on first load; "Not now" is remembered', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true, toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { requestPermission } = stubNotifications('default');
      backend();
      await connected();
      expect(screen.queryByTestId('notify-prompt')).toBeNull();
      act(() => void vi.advanceTimersByTime(31_000));
      const prompt = await screen.findByTestId('notify-prompt');
      expect(prompt.getAttribute('aria-label')).toBe('Desktop notifications');
      expect(requestPermission).not.toHaveBeenCalled();
      await userEvent.setup({ advanceTimers: vi.advanceTimersByTime }).click(screen.getByTestId('notify-prompt-enable'));
      expect(requestPermission).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('"Not now" hides the prompt for good', async () => {
    stubNotifications('default');
    backend();
    await connected();
    act(() => void document.dispatchEvent(new Event('submit')));
    await userEvent.setup().click(await screen.findByTestId('notify-prompt-dismiss'));
    expect(screen.queryByTestId('notify-prompt')).toBeNull();
    expect(localStorage.getItem(PROMPT_DISMISSED_KEY)).toBe('dismissed');
  });

  it('the settings section and the mute bell save through PUT /api/me/settings; settings:update applies at once', async () => {
    stubNotifications('granted');
    const { puts } = backend();
    const { sock } = await connected('/channels/1/10');
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('mute-channel-button'));
    await waitFor(() => expect(puts).toEqual([{ ...DEFAULT_SETTINGS, mutedChannels: ['10'] }]));
    expect(screen.getByTestId('mute-channel-button').getAttribute('aria-pressed')).toBe('true');
    await user.click(screen.getByTestId('user-settings-button'));
    await user.click(await screen.findByTestId('notify-desktop-mentions')); // the settings are a lazy part
    await user.click(screen.getByTestId('notify-sound'));
    await waitFor(() => expect(puts.at(-1)).toEqual({ ...DEFAULT_SETTINGS, mutedChannels: ['10'], desktop: 'mentions', notifySound: false }));
    act(() => sock.fire('settings:update', { ...DEFAULT_SETTINGS, desktop: 'none' }));
    await waitFor(() => expect(screen.getByTestId('notify-desktop-none').getAttribute('aria-checked')).toBe('true'));
    expect(screen.getByTestId('mute-channel-button').getAttribute('aria-pressed')).toBe('false');
    // The server menu mutes the server and suppresses @everyone.
    await user.click(screen.getByTestId('server-menu-button'));
    await user.click(await screen.findByTestId('mute-server-button')); // the open menu is a lazy part
    await waitFor(() => expect(puts.at(-1)).toMatchObject({ mutedServers: ['1'], desktop: 'none' }));
    await user.click(screen.getByTestId('server-menu-button'));
    await user.click(screen.getByTestId('suppress-everyone-button'));
    await waitFor(() => expect(puts.at(-1)).toMatchObject({ mutedServers: ['1'], suppressEveryone: ['1'] }));
  });
});
