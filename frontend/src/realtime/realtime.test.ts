import { QueryClient } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from '../api/auth';
import type { Api } from '../api/endpoints';
import { qk } from '../api/queryKeys';
import type { ChannelsList, DMList, Message, MessagesPage } from '../api/types';
import { toItems } from '../chat/messageStore';
import { FakeSocket, fakeSocketFactory } from '../test/fakeSocket';
import { msg } from '../test/fixtures';
import * as live from './live';
import { Realtime } from './realtime';

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(pages: Record<string, MessagesPage[]> = {}) {
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
  const messages = vi.fn(async (channelId: string, _opts?: { before?: string }) => {
    const q = pages[channelId];
    return q && q.length ? q.shift()! : { messages: [], hasMore: false };
  });
  const api = { messages, presence: vi.fn(async () => ({ presence: [] })) } as unknown as Api;
  const queryClient = new QueryClient();
  const sock = new FakeSocket();
  const rt = new Realtime({ auth, api, queryClient, meId: 'me', socketFactory: fakeSocketFactory(sock), live });
  return { rt, sock, api, messages, queryClient, auth };
}

/** A text channel of server s with nothing unread. */
const ch = (id: string) => ({
  id,
  serverId: 's',
  name: id,
  topic: '',
  type: 'text' as const,
  createdAt: '',
  lastMessageId: null,
  lastMessageAt: null,
  unreadCount: 0,
  mentionCount: 0,
});

describe('Realtime', () => {
  beforeEach(() => vi.useRealTimers());
  afterEach(() => localStorage.clear());

  it('applies presence from single updates and from batches', async () => {
    const { rt, sock } = setup();
    rt.start();
    sock.serverConnect();
    sock.fire('presence:update', { userId: 'u1', status: 'online', lastSeen: null });
    sock.fire('presence:batch', {
      updates: [
        { userId: 'u2', status: 'idle', lastSeen: null },
        { userId: 'u1', status: 'offline', lastSeen: '2026-11-24T08:00:00Z' },
      ],
    });
    expect(rt.presence.get('u1')?.status).toBe('offline');
    expect(rt.presence.get('u2')?.status).toBe('idle');
    rt.stop();
  });

  it("applies a large server's paced batch at once, without pulling presence over REST", async () => {
    const { rt, sock, api } = setup();
    rt.start();
    sock.serverConnect();
    await flush();
    const pulls = vi.mocked(api.presence).mock.calls.length;
    const before = rt.presence.getVersion();
    let notified = 0;
    const unsubscribe = rt.presence.subscribe(() => notified++);
    const updates = Array.from({ length: 2000 }, (_, i) => ({ userId: `m${i}`, status: 'online' as const, lastSeen: null }));
    sock.fire('presence:batch', { updates });
    await flush();
    expect(rt.presence.get('m0')?.status).toBe('online');
    expect(rt.presence.get('m1999')?.status).toBe('online');
    expect(rt.presence.getVersion()).toBe(before + 1); // one re-render for the whole batch
    expect(notified).toBe(1);
    expect(vi.mocked(api.presence).mock.calls.length).toBe(pulls); // the batch carries the states: no pull
    unsubscribe();
    rt.stop();
  });

  it('connects with the access token in the handshake', async () => {
    const { rt, sock } = setup();
    rt.start();
    await flush();
    expect(sock.lastAuth).toEqual({ token: 'access-1', status: 'online' });
    rt.stop();
  });

  it('send: optimistic pending, then the ack replaces it; message:new with the same nonce does not duplicate', async () => {
    const { rt, sock } = setup({ c1: [{ messages: [msg('10')], hasMore: false }] });
    rt.start();
    sock.serverConnect();
    await rt.history.ensureLoaded('c1');
    let release!: (v: unknown) => void;
    sock.ackers.set('message:send', (p) => new Promise((r) => (release = () => r({ ok: true, message: msg('20', { ...(p as object), senderId: 'me' }) }))));

    const nonce = rt.sender.send('c1', 'hello\n')!;
    let items = toItems(rt.chat.getChannel('c1'));
    expect(items.map((i) => [i.key, i.state, i.content])).toEqual([
      ['10', 'sent', 'message 10'],
      [`nonce:${nonce}`, 'pending', 'hello'],
    ]);
    const sent = sock.sent('message:send')[0] as { channelId: string; content: string; nonce: string };
    expect(sent).toEqual({ channelId: 'c1', content: 'hello', nonce });

    // The broadcast arrives before the ack.
    sock.fire('message:new', msg('20', { senderId: 'me', nonce, content: 'hello' }));
    release(undefined);
    await flush();
    items = toItems(rt.chat.getChannel('c1'));
    expect(items.map((i) => [i.key, i.state])).toEqual([
      ['10', 'sent'],
      ['20', 'sent'],
    ]);
    rt.stop();
  });

  it('failed sends are marked failed and retry reuses the same nonce', async () => {
    const { rt, sock } = setup({ c1: [{ messages: [], hasMore: false }] });
    rt.start();
    sock.serverConnect();
    await rt.history.ensureLoaded('c1');
    sock.ackers.set('message:send', () => ({ ok: false, error: { code: 'forbidden', message: 'You cannot post here.', retryable: false } }));
    const nonce = rt.sender.send('c1', 'hi')!;
    await flush();
    let item = toItems(rt.chat.getChannel('c1'))[0];
    expect(item.state).toBe('failed');
    expect(item.error).toBe('You cannot post here.');

    sock.ackers.set('message:send', (p) => ({ ok: true, message: msg('30', { ...(p as object), senderId: 'me' }) }));
    rt.sender.retry('c1', nonce);
    await flush();
    const nonces = sock.sent('message:send').map((p) => (p as { nonce: string }).nonce);
    expect(nonces).toEqual([nonce, nonce]);
    item = toItems(rt.chat.getChannel('c1'))[0];
    expect(item).toMatchObject({ id: '30', state: 'sent' });
    rt.stop();
  });

  it('on reconnect, syncs from the newest id per loaded channel and merges in order without duplicates', async () => {
    const { rt, sock } = setup({
      a: [{ messages: [msg('12', { channelId: 'a' }), msg('11', { channelId: 'a' })], hasMore: false }],
      b: [
        { messages: [msg('5', { channelId: 'b' })], hasMore: false },
        { messages: [msg('99', { channelId: 'b' }), msg('98', { channelId: 'b' })], hasMore: true }, // refetch
      ],
    });
    rt.start();
    sock.serverConnect();
    await rt.history.ensureLoaded('a');
    await rt.history.ensureLoaded('b');

    sock.drop();
    expect(rt.sockets.getStatus()).toBe('reconnecting');
    sock.ackers.set('messages:sync', () => ({
      ok: true,
      messages: { a: [msg('14', { channelId: 'a' }), msg('12', { channelId: 'a' }), msg('13', { channelId: 'a' })], b: [] },
      hasMore: { a: false, b: true },
    }));
    sock.serverConnect();
    expect(rt.sockets.getStatus()).toBe('connected');
    await flush();
    await flush();

    expect(sock.sent('messages:sync').at(-1)).toEqual({ channels: { a: '12', b: '5' } });
    expect(rt.chat.getChannel('a')!.messages.map((m) => m.id)).toEqual(['11', '12', '13', '14']);
    // b had more than the answer held: its newest page was refetched and replaces the stale history.
    expect(rt.chat.getChannel('b')!.messages.map((m) => m.id)).toEqual(['98', '99']);
    expect(rt.chat.getChannel('b')!.hasMoreOlder).toBe(true);
    rt.stop();
  });

  it('offline sends stay queued (not failed) and go out in order, same nonces, after the reconnect catch-up (issue #16 item 5)', async () => {
    const { rt, sock } = setup({ c1: [{ messages: [msg('10')], hasMore: false }] });
    rt.start();
    sock.serverConnect();
    await rt.history.ensureLoaded('c1');
    // The ack of the first message was lost when the connection dropped: it was stored as 11.
    let firstPayload: { nonce: string } | undefined;
    sock.ackers.set('message:send', (p) => {
      firstPayload = p as { nonce: string };
      sock.drop();
      throw new Error('socket has been disconnected');
    });
    const n0 = rt.sender.send('c1', 'stored, ack lost')!;
    await flush();
    sock.ackers.delete('message:send');
    const n1 = rt.sender.send('c1', 'one')!;
    const n2 = rt.sender.send('c1', 'two')!;
    await flush();
    expect(firstPayload?.nonce).toBe(n0);
    expect(sock.sent('message:send')).toHaveLength(1); // nothing emitted while disconnected
    expect(toItems(rt.chat.getChannel('c1')).map((i) => [i.content, i.state])).toEqual([
      ['message 10', 'sent'],
      ['stored, ack lost', 'pending'],
      ['one', 'pending'],
      ['two', 'pending'],
    ]);

    let syncDone = false;
    sock.ackers.set('messages:sync', () => {
      expect(sock.sent('message:send')).toHaveLength(1); // sends wait for the catch-up
      syncDone = true;
      return { ok: true, messages: { c1: [msg('11', { senderId: 'me', nonce: n0, content: 'stored, ack lost' })] }, hasMore: { c1: false } };
    });
    let id = 20;
    sock.ackers.set('message:send', (p) => ({ ok: true, message: msg(String(id++), { ...(p as object), senderId: 'me' }) }));
    sock.serverConnect();
    for (let i = 0; i < 5; i++) await flush();
    expect(syncDone).toBe(true);
    // The one catch-up showed stored is not sent again; the others go in order with their nonces.
    expect(sock.sent('message:send').map((p) => (p as { nonce: string }).nonce)).toEqual([n0, n1, n2]);
    expect(toItems(rt.chat.getChannel('c1')).map((i) => [i.id, i.content, i.state])).toEqual([
      ['10', 'message 10', 'sent'],
      ['11', 'stored, ack lost', 'sent'],
      ['20', 'one', 'sent'],
      ['21', 'two', 'sent'],
    ]);
    rt.stop();
  });

  it('message:new from others in a DM emits message:delivered; receipts update status', async () => {
    const { rt, sock, queryClient } = setup({ d: [{ messages: [], hasMore: false }] });
    queryClient.setQueryData<DMList>(qk.dms, {
      channels: [{ id: 'd', type: 'dm', participants: [], createdAt: '', lastMessageId: null, lastMessageAt: null, unreadCount: 0, mentionCount: 0 }],
    });
    rt.start();
    sock.serverConnect();
    await rt.history.ensureLoaded('d');
    sock.fire('message:new', msg('40', { channelId: 'd', senderId: 'bob' }));
    expect(sock.sent('message:delivered')).toEqual([{ channelId: 'd', messageId: '40' }]);
    sock.fire('receipt:delivered', { channelId: 'd', userId: 'bob', messageId: '40' });
    expect(rt.chat.getReceipts('d').delivered).toEqual({ bob: '40' });
    // List metadata follows.
    expect(queryClient.getQueryData<DMList>(qk.dms)!.channels[0].lastMessageId).toBe('40');
    rt.stop();
  });

  it('unread:update updates the channel list, but the open channel stays at zero', async () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x'), ch('y')] });
    rt.start();
    sock.serverConnect();
    rt.read.setActiveChannel('y');
    sock.fire('unread:update', { channelId: 'x', unreadCount: 3, mentionCount: 1, lastReadId: '77' });
    sock.fire('unread:update', { channelId: 'y', unreadCount: 2, mentionCount: 0, lastReadId: '78' });
    const list = queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels;
    expect(list.map((c) => [c.id, c.unreadCount])).toEqual([
      ['x', 3],
      ['y', 0],
    ]);
    rt.stop();
  });

  it('message:new from someone else badges a channel that is not open, live, once per message', async () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x'), ch('y')] });
    rt.start();
    sock.serverConnect();
    rt.read.setActiveChannel('y');
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob' }));
    sock.fire('message:new', msg('61', { channelId: 'x', senderId: 'bob' }));
    sock.fire('message:new', msg('61', { channelId: 'x', senderId: 'bob' })); // seen twice: counts once
    sock.fire('message:new', msg('62', { channelId: 'x', senderId: 'me' })); // my own (another tab): not unread
    sock.fire('message:new', msg('63', { channelId: 'y', senderId: 'bob' })); // the open channel stays at zero
    const list = queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels;
    expect(list.map((c) => [c.id, c.unreadCount, c.lastMessageId])).toEqual([
      ['x', 2, '62'],
      ['y', 0, '63'],
    ]);
    rt.stop();
  });

  it('a read position older than the newest message leaves the newer messages unread', () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x')] });
    rt.start();
    sock.serverConnect();
    sock.fire('message:new', msg('70', { channelId: 'x', senderId: 'bob' }));
    sock.fire('message:new', msg('71', { channelId: 'x', senderId: 'bob' }));
    sock.fire('unread:update', { channelId: 'x', unreadCount: 0, mentionCount: 0, lastReadId: '70' }); // a late receipt
    expect(queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels[0].unreadCount).toBe(1);
    sock.fire('receipt:update', { channelId: 'x', userId: 'me', messageId: '70' }); // the same, as the channel hears it
    expect(queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels[0].unreadCount).toBe(1);
    sock.fire('unread:update', { channelId: 'x', unreadCount: 0, mentionCount: 0, lastReadId: '71' });
    expect(queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels[0].unreadCount).toBe(0);
    rt.stop();
  });

  it('the read receipt covers only what was seen: a message arriving after leaving the channel stays unread', async () => {
    vi.useFakeTimers();
    const focus = vi.spyOn(document, 'hasFocus').mockReturnValue(true);
    try {
      const { rt, sock } = setup({ c: [{ messages: [msg('10', { channelId: 'c', senderId: 'bob' })], hasMore: false }] });
      rt.start();
      sock.serverConnect();
      await rt.history.ensureLoaded('c');
      rt.read.setActiveChannel('c');
      rt.read.markRead('c'); // the receipt is debounced
      rt.read.setActiveChannel(null); // the user leaves before it goes out...
      sock.fire('message:new', msg('11', { channelId: 'c', senderId: 'bob' })); // ...and then a message arrives
      vi.advanceTimersByTime(1_000);
      expect(sock.sent('receipt:read')).toEqual([{ channelId: 'c', messageId: '10' }]);
      rt.stop();
    } finally {
      focus.mockRestore();
      vi.useRealTimers();
    }
  });

  it('channel deleted: removed from the cache and a notice is raised', async () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<ChannelsList>(qk.channels('s'), {
      channels: [{ id: 'x', serverId: 's', name: 'x', topic: '', type: 'text', createdAt: '', lastMessageId: null, lastMessageAt: null, unreadCount: 0, mentionCount: 0 }],
    });
    const notices: unknown[] = [];
    rt.membership.onRemoved((n) => notices.push(n));
    rt.start();
    sock.serverConnect();
    sock.fire('channel:update', { action: 'deleted', channel: { id: 'x', serverId: 's', name: 'x', type: 'text' } });
    expect(queryClient.getQueryData<ChannelsList>(qk.channels('s'))!.channels).toEqual([]);
    expect(notices).toEqual([{ kind: 'channel', id: 'x', serverId: 's', message: '#x was deleted.' }]);
    rt.stop();
  });

  it('kicked from a server: notice and cache removal', () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData(qk.servers, { servers: [{ id: 's', name: 'Guild', ownerId: 'o', role: 'member', memberCount: 2, createdAt: '' }] });
    const notices: { message: string }[] = [];
    rt.membership.onRemoved((n) => notices.push(n));
    rt.start();
    sock.serverConnect();
    sock.fire('member:update', { serverId: 's', action: 'kicked', member: { user: { id: 'me' }, role: 'member', joinedAt: '' } });
    expect(queryClient.getQueryData<{ servers: unknown[] }>(qk.servers)!.servers).toEqual([]);
    expect(notices[0].message).toBe('You were removed from "Guild".');
    rt.stop();
  });

  it('kicked, as the server tells the kicked user (server:update to their own room): notice and cache removal', () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData(qk.servers, { servers: [{ id: 's', name: 'Guild', ownerId: 'o', role: 'member', memberCount: 2, createdAt: '' }] });
    const notices: { kind: string; id: string; message: string }[] = [];
    rt.membership.onRemoved((n) => notices.push(n));
    rt.start();
    sock.serverConnect();
    sock.fire('server:update', { server: { id: 's' }, action: 'kicked' });
    expect(queryClient.getQueryData<{ servers: unknown[] }>(qk.servers)!.servers).toEqual([]);
    expect(notices).toEqual([{ kind: 'server', id: 's', message: 'You were removed from "Guild".' }]);
    rt.stop();
  });

  it('connect_error token_expired refreshes once then reconnects; unauthorized logs out', async () => {
    const { rt, sock, auth } = setup();
    const refresh = vi.spyOn(auth, 'refresh').mockResolvedValue('access-2');
    rt.start();
    await flush();
    const before = sock.connectCalls;
    sock.fire('connect_error', new Error('token_expired'));
    await flush();
    await flush();
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh).toHaveBeenCalledWith('access-1');
    expect(sock.connectCalls).toBe(before + 1);

    sock.fire('connect_error', new Error('unauthorized'));
    expect(auth.getSession()).toBeNull();
    rt.stop();
  });

  it('typing:user shows and message:new from that user clears it', () => {
    const { rt, sock } = setup();
    rt.start();
    sock.serverConnect();
    sock.fire('typing:user', { channelId: 'c1', userId: 'bob', typing: true });
    expect([...(rt.typing.getTyping().get('c1')?.keys() ?? [])]).toEqual(['bob']);
    sock.fire('message:new', msg('50', { senderId: 'bob' }) as Message);
    expect(rt.typing.getTyping().get('c1')).toBeUndefined();
    rt.stop();
  });
});
