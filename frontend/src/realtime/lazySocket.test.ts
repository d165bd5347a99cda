// The socket client arrives as a chunk of its own (api/socket.ts): what the chat screen does before it is here.
import { QueryClient } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from '../api/auth';
import type { Api } from '../api/endpoints';
import type { ParleySocket, SocketFactory } from '../api/socket';
import { toItems } from '../chat/messageStore';
import { FakeSocket } from '../test/fakeSocket';
import { msg } from '../test/fixtures';
import * as live from './live';
import { Realtime } from './realtime';

/** A factory whose socket arrives when the test says (load) or whose download fails (fail). */
function deferredFactory() {
  const sock = new FakeSocket();
  const pending: { resolve: (s: ParleySocket) => void; reject: (e: unknown) => void }[] = [];
  let calls = 0;
  const factory: SocketFactory = ({ auth }) => {
    calls++;
    sock.authFn = auth;
    return new Promise<ParleySocket>((resolve, reject) => pending.push({ resolve, reject }));
  };
  return {
    sock,
    factory,
    calls: () => calls,
    load: () => pending.shift()!.resolve(sock as unknown as ParleySocket),
    fail: () => pending.shift()!.reject(new TypeError('Failed to fetch dynamically imported module')),
  };
}

/** `inject`: pass the event handlers in (as the other tests do); else the coordinator imports live.ts itself. */
function setup(factory: SocketFactory, inject = true) {
  localStorage.setItem(
    SESSION_KEY,
    JSON.stringify({
      user: { id: 'me', username: 'me', displayName: 'Me', avatarUrl: '', createdAt: '', email: '' },
      accessToken: 'access-1',
      refreshToken: 'refresh-1',
      accessTokenExpiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      receivedAt: Date.now(),
    }),
  );
  const auth = new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() });
  const api = {
    messages: vi.fn(async () => ({ messages: [msg('10')], hasMore: false })),
    presence: vi.fn(async () => ({ presence: [] })),
  } as unknown as Api;
  return new Realtime({ auth, api, queryClient: new QueryClient(), meId: 'me', socketFactory: factory, live: inject ? live : undefined });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('socket client loaded on demand', () => {
  afterEach(() => {
    vi.useRealTimers();
    localStorage.clear();
  });

  it('history loads before the client is here; started early, it connects on arrival with listeners in place', async () => {
    const f = deferredFactory();
    const rt = setup(f.factory);
    rt.start();
    expect(rt.sockets.getStatus()).toBe('connecting');
    expect(rt.sockets.connected).toBe(false);
    await rt.history.ensureLoaded('c1');
    expect(toItems(rt.chat.getChannel('c1')).map((i) => i.key)).toEqual(['10']);
    // Emitted before the client arrived: said once it is (socket.io then buffers until connected).
    rt.presence.setChosen('dnd');
    expect(f.sock.connectCalls).toBe(0);

    f.load();
    await tick();
    expect(f.sock.connectCalls).toBe(1);
    expect(f.sock.sent('presence:set')).toEqual([{ status: 'dnd' }]);
    f.sock.serverConnect();
    expect(rt.sockets.getStatus()).toBe('connected');
    f.sock.fire('message:new', msg('11', { channelId: 'c1' }));
    expect(toItems(rt.chat.getChannel('c1')).map((i) => i.key)).toEqual(['10', '11']);
    rt.stop();
  });

  it('without the handlers passed in, the socket connects only once live.ts has loaded, with every listener in place', async () => {
    const f = deferredFactory();
    const rt = setup(f.factory, false);
    rt.start();
    await rt.history.ensureLoaded('c1');
    // A send before either chunk is here: it waits for the outbox (which comes with live.ts) and goes out once.
    f.sock.ackers.set('message:send', (p) => ({ ok: true, message: msg('20', { ...(p as object), senderId: 'me' }) }));
    const nonce = rt.sender.send('c1', 'early')!;
    f.load();
    await vi.waitFor(() => expect(f.sock.connectCalls).toBe(1));
    f.sock.serverConnect();
    expect(rt.sockets.getStatus()).toBe('connected');
    f.sock.fire('message:new', msg('11', { channelId: 'c1' }));
    f.sock.fire('typing:user', { channelId: 'c1', userId: 'bob', typing: true });
    expect(toItems(rt.chat.getChannel('c1')).map((i) => i.key)).toEqual(['10', '11', `nonce:${nonce}`]);
    expect([...(rt.typing.getTyping().get('c1')?.keys() ?? [])]).toEqual(['bob']);
    await vi.waitFor(() => expect(f.sock.sent('message:send')).toEqual([{ channelId: 'c1', content: 'early', nonce }]));
    await vi.waitFor(() => expect(toItems(rt.chat.getChannel('c1')).map((i) => [i.key, i.state])).toEqual([['10', 'sent'], ['11', 'sent'], ['20', 'sent']]));
    rt.stop();
  });

  it('paging before the socket client is here fetches live.ts by itself; the socket then uses the same module', async () => {
    const f = deferredFactory();
    const rt = setup(f.factory, false);
    rt.start();
    await rt.history.ensureLoaded('c1');
    expect(rt.history.isLoadingOlder('c1')).toBe(false);
    expect(await rt.history.jumpTo('c1', '10')).toBe(true);
    f.sock.ackers.set('message:send', (p) => ({ ok: true, message: msg('20', { ...(p as object), senderId: 'me' }) }));
    const nonce = rt.sender.send('c1', 'after the jump')!;
    f.load();
    await vi.waitFor(() => expect(f.sock.connectCalls).toBe(1));
    f.sock.serverConnect();
    await vi.waitFor(() => expect(f.sock.sent('message:send')).toEqual([{ channelId: 'c1', content: 'after the jump', nonce }]));
    rt.stop();
  });

  it('a send before the client is here waits for it and goes out once, with its nonce', async () => {
    const f = deferredFactory();
    const rt = setup(f.factory);
    rt.start();
    await rt.history.ensureLoaded('c1');
    f.sock.ackers.set('message:send', (p) => ({ ok: true, message: msg('20', { ...(p as object), senderId: 'me' }) }));
    const nonce = rt.sender.send('c1', 'early')!;
    expect(f.sock.sent('message:send')).toEqual([]);
    f.load();
    await tick();
    f.sock.serverConnect();
    await vi.waitFor(() => expect(f.sock.sent('message:send')).toEqual([{ channelId: 'c1', content: 'early', nonce }]));
    await vi.waitFor(() => expect(toItems(rt.chat.getChannel('c1')).map((i) => [i.key, i.state])).toEqual([['10', 'sent'], ['20', 'sent']]));
    rt.stop();
  });

  it('a reaction before live.ts (the sender\'s operations) is here waits for it, then shows and goes out once', async () => {
    const f = deferredFactory();
    const rt = setup(f.factory, false); // the coordinator imports live.ts itself
    rt.start();
    await rt.history.ensureLoaded('c1');
    f.sock.ackers.set('reaction:add', () => ({ ok: true, reaction: { emoji: '👍', count: 1, me: true, userIds: ['me'] } }));
    const reacted = rt.sender.react('c1', '10', '👍', true);
    f.load();
    await tick();
    f.sock.serverConnect();
    await reacted;
    expect(f.sock.sent('reaction:add')).toEqual([{ channelId: 'c1', messageId: '10', emoji: '👍' }]);
    expect(toItems(rt.chat.getChannel('c1'))[0].reactions).toEqual([{ emoji: '👍', count: 1, me: true, userIds: ['me'] }]);
    rt.stop();
  });

  it('an edit while the client has not arrived fails after the send timeout instead of hanging', async () => {
    vi.useFakeTimers();
    const f = deferredFactory();
    const rt = setup(f.factory);
    rt.start();
    const edit = rt.sender.edit('c1', '10', 'changed');
    const outcome = expect(edit).rejects.toThrow('not connected');
    await vi.advanceTimersByTimeAsync(20_000);
    await outcome;
    rt.stop();
  });

  it('a failed download is tried again later, and at once when the browser is back online; never after stop', async () => {
    vi.useFakeTimers();
    const f = deferredFactory();
    const rt = setup(f.factory);
    rt.start();
    f.fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(f.calls()).toBe(2);
    f.fail();
    await vi.advanceTimersByTimeAsync(0);
    // Back online (RealtimeProvider listens for `online`): no need to wait out the 3 s.
    rt.sockets.kick();
    expect(f.calls()).toBe(3);
    f.load();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.sock.connectCalls).toBe(1);
    rt.stop();

    const g = deferredFactory();
    const rt2 = setup(g.factory);
    rt2.start();
    g.fail();
    await vi.advanceTimersByTimeAsync(0);
    rt2.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(g.calls()).toBe(1);
  });
});
