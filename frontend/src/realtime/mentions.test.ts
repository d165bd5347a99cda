// Live mention counts, the DM order, settings:update and the incoming-message decisions of Realtime.
import { QueryClient } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from '../api/auth';
import type { Api } from '../api/endpoints';
import { qk } from '../api/queryKeys';
import type { ChannelsList, DMChannel, DMList, NotificationSettings } from '../api/types';
import { sortDMs } from '../app/queries';
import { DEFAULT_SETTINGS } from '../chat/notify';
import { FakeSocket, fakeSocketFactory } from '../test/fakeSocket';
import { msg } from '../test/fixtures';
import { totalMentions } from '../app/cache';
import * as live from './live';
import { Realtime, type IncomingMessage } from './realtime';

function setup() {
  localStorage.setItem(
    SESSION_KEY,
    JSON.stringify({
      user: { id: 'me', username: 'me', displayName: 'Me', avatarUrl: '', createdAt: '', email: '' },
      accessToken: 'a',
      refreshToken: 'r',
      accessTokenExpiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      receivedAt: Date.now(),
    }),
  );
  const auth = new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() });
  const api = { messages: vi.fn(async () => ({ messages: [], hasMore: false })), presence: vi.fn(async () => ({ presence: [] })) } as unknown as Api;
  const qc = new QueryClient();
  const sock = new FakeSocket();
  const rt = new Realtime({ auth, api, queryClient: qc, meId: 'me', socketFactory: fakeSocketFactory(sock), live });
  const incoming: IncomingMessage[] = [];
  rt.messages.onIncoming((e) => incoming.push(e));
  rt.start();
  sock.serverConnect();
  return { rt, sock, qc, incoming };
}

const ch = (id: string, serverId = 's') => ({
  id,
  serverId,
  name: id,
  topic: '',
  type: 'text' as const,
  createdAt: '',
  lastMessageId: null,
  lastMessageAt: null,
  unreadCount: 0,
  mentionCount: 0,
});
const dm = (id: string, lastMessageId: string | null): DMChannel => ({
  id,
  type: 'dm',
  participants: [],
  createdAt: '',
  lastMessageId,
  lastMessageAt: null,
  unreadCount: 0,
  mentionCount: 0,
});
const counts = (qc: QueryClient, serverId = 's') =>
  qc.getQueryData<ChannelsList>(qk.channels(serverId))!.channels.map((c) => [c.id, c.unreadCount, c.mentionCount]);

describe('Realtime: mentions', () => {
  afterEach(() => localStorage.clear());

  it('a message that mentions me raises the mention count of a channel that is not open; reading clears it', () => {
    const { rt, sock, qc } = setup();
    qc.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x'), ch('y')] });
    rt.read.setActiveChannel('y');
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: 'hi <@me>', mentions: ['me'] }));
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: 'hi <@me>', mentions: ['me'] })); // twice: once
    sock.fire('message:new', msg('61', { channelId: 'x', senderId: 'bob', content: 'no mention' }));
    sock.fire('message:new', msg('62', { channelId: 'x', senderId: 'bob', content: '@everyone', mentionEveryone: true }));
    sock.fire('message:new', msg('63', { channelId: 'y', senderId: 'bob', content: '<@me>', mentions: ['me'] })); // open
    sock.fire('message:new', msg('64', { channelId: 'x', senderId: 'me', content: '<@me>', mentions: ['me'] })); // mine
    expect(counts(qc)).toEqual([
      ['x', 3, 2],
      ['y', 0, 0],
    ]);
    expect(totalMentions(qc)).toBe(2);
    // Read in another tab: the server says so.
    sock.fire('unread:update', { channelId: 'x', unreadCount: 0, mentionCount: 0, lastReadId: '64' });
    expect(counts(qc)[0]).toEqual(['x', 0, 0]);
    expect(totalMentions(qc)).toBe(0);
    rt.stop();
  });

  it('opening the channel clears its mentions at once', () => {
    const { rt, sock, qc } = setup();
    qc.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x')] });
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: '<@me>', mentions: ['me'] }));
    expect(counts(qc)).toEqual([['x', 1, 1]]);
    rt.read.setActiveChannel('x');
    expect(counts(qc)).toEqual([['x', 0, 0]]);
    rt.stop();
  });

  it('@everyone and @here do not count in a server where I suppress them; direct mentions still do', () => {
    const { rt, sock, qc } = setup();
    qc.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x')] });
    qc.setQueryData<NotificationSettings>(qk.settings, { ...DEFAULT_SETTINGS, suppressEveryone: ['s'] });
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: '@everyone', mentionEveryone: true }));
    sock.fire('message:new', msg('61', { channelId: 'x', senderId: 'bob', content: '@here', mentions: ['me'] }));
    expect(counts(qc)).toEqual([['x', 2, 0]]);
    sock.fire('message:new', msg('62', { channelId: 'x', senderId: 'bob', content: '<@me>', mentions: ['me'] }));
    expect(counts(qc)).toEqual([['x', 3, 1]]);
    rt.stop();
  });

  it('while the tab is hidden, a mention in the open channel counts too (the title shows it)', () => {
    const { rt, sock, qc } = setup();
    qc.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x')] });
    rt.read.setActiveChannel('x');
    const vis = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    try {
      sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: '<@me>', mentions: ['me'] }));
      expect(counts(qc)).toEqual([['x', 1, 1]]);
    } finally {
      vis.mockRestore();
    }
    rt.stop();
  });

  it('a new DM message moves the DM to the top of the list, with its mention', () => {
    const { rt, sock, qc } = setup();
    qc.setQueryData<DMList>(qk.dms, { channels: [dm('d1', '50'), dm('d2', '40')] });
    expect(sortDMs(qc.getQueryData<DMList>(qk.dms)!.channels).map((c) => c.id)).toEqual(['d1', 'd2']);
    sock.fire('message:new', msg('60', { channelId: 'd2', senderId: 'bob', content: 'hey <@me>', mentions: ['me'] }));
    const list = sortDMs(qc.getQueryData<DMList>(qk.dms)!.channels);
    expect(list.map((c) => [c.id, c.unreadCount, c.mentionCount])).toEqual([
      ['d2', 1, 1],
      ['d1', 0, 0],
    ]);
    rt.stop();
  });

  it('hands each new message from someone else to the incoming listeners once, with its decision', () => {
    const { rt, sock, qc, incoming } = setup();
    qc.setQueryData<ChannelsList>(qk.channels('s'), { channels: [ch('x')] });
    qc.setQueryData<NotificationSettings>(qk.settings, { ...DEFAULT_SETTINGS, mutedChannels: ['x'] });
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: 'plain' }));
    sock.fire('message:new', msg('60', { channelId: 'x', senderId: 'bob', content: 'plain' }));
    sock.fire('message:new', msg('61', { channelId: 'x', senderId: 'bob', content: '<@me>', mentions: ['me'] }));
    sock.fire('message:new', msg('62', { channelId: 'x', senderId: 'me' }));
    sock.fire('message:new', msg('63', { channelId: 'unknown-dm', senderId: 'carol' }));
    expect(incoming.map((e) => [e.message.id, e.place?.type ?? 'unknown', e.decision.mention, e.decision.muted, e.decision.sound])).toEqual([
      ['60', 'text', false, true, false],
      ['61', 'text', true, true, true],
      ['63', 'unknown', false, false, true],
    ]);
    rt.stop();
  });

  it('settings:update (another tab) replaces the cached settings', () => {
    const { rt, sock, qc } = setup();
    sock.fire('settings:update', { ...DEFAULT_SETTINGS, mutedServers: ['s'], desktop: 'none' });
    expect(rt.messages.settings()).toEqual({ ...DEFAULT_SETTINGS, mutedServers: ['s'], desktop: 'none' });
    expect(qc.getQueryData(qk.settings)).toEqual(rt.messages.settings());
    rt.stop();
  });
});
