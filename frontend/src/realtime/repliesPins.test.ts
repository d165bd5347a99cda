// Replies and pins in the live layer (issue #15): pin:update keeps the pinned panel's list current, deletes reach
// reply quotes, sends carry replyTo, and jumping far back loads a window that pages forward to the present.
import { QueryClient } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from '../api/auth';
import type { Api } from '../api/endpoints';
import { ApiError } from '../api/http';
import { qk } from '../api/queryKeys';
import type { Message, MessagesPage } from '../api/types';
import type { PinsData } from '../chat/pins';
import { resolveQuote } from '../chat/replies';
import { FakeSocket, fakeSocketFactory } from '../test/fakeSocket';
import { msg } from '../test/fixtures';
import * as live from './live';
import { Realtime } from './realtime';

const flush = () => new Promise((r) => setTimeout(r, 0));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function setup(messages: (channelId: string, opts?: Record<string, string | number | undefined>) => Promise<MessagesPage>) {
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
    messages: vi.fn(messages),
    message: vi.fn(async (_c: string, id: string): Promise<{ message: Message }> => {
      if (id === 'gone') throw new ApiError(404, 'not_found', 'Message not found.');
      return { message: msg(id, { content: `fetched ${id}` }) };
    }),
    pin: vi.fn(async () => undefined),
    unpin: vi.fn(async () => undefined),
    presence: vi.fn(async () => ({ presence: [] })),
  } as unknown as Api;
  const queryClient = new QueryClient();
  const sock = new FakeSocket();
  const rt = new Realtime({ auth, api, queryClient, meId: 'me', socketFactory: fakeSocketFactory(sock), live });
  rt.start();
  sock.serverConnect();
  return { rt, sock, api, queryClient };
}

const pinIds = (qc: QueryClient) => qc.getQueryData<PinsData>(qk.pins('c1'))?.messages.map((m) => m.id);

describe('replies and pins, live', () => {
  afterEach(() => localStorage.clear());

  it('pin:update updates the pinned list: loaded message first, unknown one refetched, unpin removes', async () => {
    const { rt, sock, queryClient } = setup(async () => ({ messages: [msg('30'), msg('20'), msg('10')], hasMore: false }));
    await rt.history.loadNewest('c1');
    queryClient.setQueryData<PinsData>(qk.pins('c1'), { messages: [msg('10')] });
    sock.fire('pin:update', { channelId: 'c1', messageId: '20', userId: 'u1', pinned: true });
    expect(pinIds(queryClient)).toEqual(['20', '10']);
    sock.fire('pin:update', { channelId: 'c1', messageId: '10', userId: 'u1', pinned: false });
    expect(pinIds(queryClient)).toEqual(['20']);
    // A message that is not loaded: the list is fetched again.
    const spy = vi.spyOn(queryClient, 'invalidateQueries');
    sock.fire('pin:update', { channelId: 'c1', messageId: '5', userId: 'u1', pinned: true });
    expect(spy).toHaveBeenCalledWith({ queryKey: qk.pins('c1') });
    // A deleted pinned message leaves the list too.
    sock.fire('message:deleted', { channelId: 'c1', messageId: '20' });
    expect(pinIds(queryClient)).toEqual([]);
    rt.stop();
  });

  it('pin() calls the API and updates this tab at once', async () => {
    const { rt, api, queryClient } = setup(async () => ({ messages: [msg('20')], hasMore: false }));
    await rt.history.loadNewest('c1');
    queryClient.setQueryData<PinsData>(qk.pins('c1'), { messages: [] });
    await rt.sender.pin('c1', '20', true);
    expect(api.pin).toHaveBeenCalledWith('c1', '20');
    expect(pinIds(queryClient)).toEqual(['20']);
    await rt.sender.pin('c1', '20', false);
    expect(api.unpin).toHaveBeenCalledWith('c1', '20');
    expect(pinIds(queryClient)).toEqual([]);
    rt.stop();
  });

  it('reply quotes: fetched when not loaded, deleted on 404 and on message:deleted', async () => {
    const { rt, sock, api } = setup(async () => ({ messages: [msg('30')], hasMore: true }));
    await rt.history.loadNewest('c1');
    const quote = (id: string) => resolveQuote(id, rt.chat.getChannel('c1'), rt.originals.get('c1', id));
    expect(quote('7').status).toBe('unknown');
    await rt.originals.load('c1', '7');
    expect(api.message).toHaveBeenCalledWith('c1', '7');
    expect(quote('7')).toMatchObject({ status: 'loaded', message: { content: 'fetched 7' } });
    await rt.originals.load('c1', 'gone');
    expect(quote('gone').status).toBe('deleted');
    sock.fire('message:deleted', { channelId: 'c1', messageId: '7' });
    expect(quote('7').status).toBe('deleted');
    rt.stop();
  });

  it('a reply is sent with replyTo', async () => {
    const { rt, sock } = setup(async () => ({ messages: [msg('30')], hasMore: false }));
    sock.ackers.set('message:send', (p) => ({ ok: true, message: msg('31', { ...(p as object), senderId: 'me' }) }));
    await rt.history.loadNewest('c1');
    rt.sender.send('c1', 'my answer', '30');
    await flush();
    await flush();
    expect(sock.sent('message:send')).toEqual([expect.objectContaining({ channelId: 'c1', content: 'my answer', replyTo: '30' })]);
    rt.sender.send('c1', 'no reply');
    await flush();
    await flush();
    expect(sock.sent('message:send')[1]).not.toHaveProperty('replyTo');
    rt.stop();
  });

  it('jumpTo far back: a window around the message, paging forward to the present, then catch-up', async () => {
    const { rt, sock } = setup(async (_c, opts = {}) => {
      if (opts.around) return { messages: range(476, 525).map((id) => msg(id)), hasMore: true };
      if (opts.after === '525') return { messages: range(526, 575).map((id) => msg(id)), hasMore: false };
      return { messages: range(1050, 1099).reverse().map((id) => msg(id)), hasMore: true };
    });
    sock.ackers.set('messages:sync', () => ({ ok: true, messages: { c1: [msg('1100')] }, hasMore: {} }));
    await rt.history.loadNewest('c1');
    expect(await rt.history.jumpTo('c1', '1060')).toBe(true); // loaded: nothing to fetch
    expect(await rt.history.jumpTo('c1', '500')).toBe(true);
    const st = rt.chat.getChannel('c1')!;
    expect(st.hasMoreNewer).toBe(true);
    expect(st.messages[0].id).toBe('476');
    // Live messages wait until the window reaches the present.
    sock.fire('message:new', msg('1100'));
    expect(rt.chat.getChannel('c1')!.messages.at(-1)!.id).toBe('525');
    await rt.history.loadNewer('c1');
    const after = rt.chat.getChannel('c1')!;
    expect(after.hasMoreNewer).toBe(false);
    // Caught up from the newest held id.
    expect(sock.sent('messages:sync').at(-1)).toEqual({ channels: { c1: '575' } });
    expect(after.messages.at(-1)!.id).toBe('1100');
    rt.stop();
  });
});
