// Bans, closed and left DMs as the socket reports them (issue #22).
import { QueryClient } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_KEY } from '../api/auth';
import type { Api } from '../api/endpoints';
import { qk } from '../api/queryKeys';
import type { DMChannel, DMList } from '../api/types';
import { FakeSocket, fakeSocketFactory } from '../test/fakeSocket';
import * as live from './live';
import { Realtime } from './realtime';

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
  const queryClient = new QueryClient();
  const sock = new FakeSocket();
  const rt = new Realtime({ auth, api, queryClient, meId: 'me', socketFactory: fakeSocketFactory(sock), live });
  rt.start();
  sock.serverConnect();
  return { rt, sock, queryClient };
}

const user = (id: string) => ({ id, username: id, displayName: id, avatarUrl: '', createdAt: '' });
const dm = (id: string, people: string[], over: Partial<DMChannel> = {}): DMChannel => ({
  id,
  type: 'dm',
  participants: people.map(user),
  createdAt: '',
  lastMessageId: '90',
  lastMessageAt: '2026-12-06T10:00:00Z',
  unreadCount: 2,
  mentionCount: 0,
  ...over,
});

describe('Realtime and community safety', () => {
  afterEach(() => localStorage.clear());

  it('banned (to my own room, and as a member event): the server goes, with a notice saying so', () => {
    for (const [event, payload] of [
      ['server:update', { server: { id: 's' }, action: 'banned' }],
      ['member:update', { serverId: 's', action: 'banned', member: { user: { id: 'me' }, role: 'member', joinedAt: '' } }],
    ] as const) {
      const { rt, sock, queryClient } = setup();
      queryClient.setQueryData(qk.servers, { servers: [{ id: 's', name: 'Guild', ownerId: 'o', role: 'member', memberCount: 2, createdAt: '' }] });
      const notices: { message: string }[] = [];
      rt.membership.onRemoved((n) => notices.push(n));
      sock.fire(event, payload);
      expect(queryClient.getQueryData<{ servers: unknown[] }>(qk.servers)!.servers).toEqual([]);
      expect(notices.map((n) => n.message)).toEqual(['You were banned from "Guild".']);
      rt.stop();
    }
  });

  it("someone else banned: off the member list, the count drops, the ban list is refetched", () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData(qk.servers, { servers: [{ id: 's', name: 'Guild', ownerId: 'me', role: 'owner', memberCount: 2, createdAt: '' }] });
    queryClient.setQueryData(qk.members('s'), { pages: [{ members: [{ user: user('me'), role: 'owner', joinedAt: '' }, { user: user('x'), role: 'member', joinedAt: '' }], hasMore: false }], pageParams: [undefined] });
    queryClient.setQueryData(qk.bans('s'), { bans: [] });
    sock.fire('member:update', { serverId: 's', action: 'banned', member: { user: { id: 'x' } } });
    const members = queryClient.getQueryData<{ pages: { members: { user: { id: string } }[] }[] }>(qk.members('s'))!;
    expect(members.pages[0].members.map((m) => m.user.id)).toEqual(['me']);
    expect(queryClient.getQueryData<{ servers: { memberCount: number }[] }>(qk.servers)!.servers[0].memberCount).toBe(1);
    expect(queryClient.getQueryState(qk.bans('s'))!.isInvalidated).toBe(true);
    rt.stop();
  });

  it('a DM closed in another tab or a group I left leaves my list without a notice', () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<DMList>(qk.dms, { channels: [dm('d1', ['me', 'a']), dm('g1', ['me', 'a', 'b']), dm('d2', ['me', 'b'])] });
    const notices: unknown[] = [];
    rt.membership.onRemoved((n) => notices.push(n));
    sock.fire('channel:update', { action: 'closed', channel: { id: 'd1', type: 'dm', participants: [] } });
    sock.fire('channel:update', { action: 'left', channel: { id: 'g1', type: 'dm', participants: [] } });
    expect(queryClient.getQueryData<DMList>(qk.dms)!.channels.map((c) => c.id)).toEqual(['d2']);
    expect(notices).toEqual([]);
    rt.stop();
  });

  it('someone left my group DM: only its participants change', () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<DMList>(qk.dms, { channels: [dm('g1', ['me', 'a', 'b'])] });
    sock.fire('channel:update', {
      action: 'updated',
      channel: { id: 'g1', type: 'dm', participants: [user('me'), user('a')], lastMessageId: null, lastMessageAt: null, unreadCount: 0 },
    });
    const g = queryClient.getQueryData<DMList>(qk.dms)!.channels[0];
    expect(g.participants!.map((u) => u.id)).toEqual(['me', 'a']);
    expect([g.lastMessageId, g.unreadCount]).toEqual(['90', 2]); // traffic kept
    rt.stop();
  });

  it('markReadUpTo clears the badge and sends the receipt at once', async () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<DMList>(qk.dms, { channels: [dm('d1', ['me', 'a'])] });
    sock.ackers.set('receipt:read', () => ({ ok: true }));
    await rt.read.markReadUpTo('d1', '90');
    expect(queryClient.getQueryData<DMList>(qk.dms)!.channels[0].unreadCount).toBe(0);
    expect(sock.emitted).toContainEqual({ event: 'receipt:read', payload: { channelId: 'd1', messageId: '90' } });
    rt.stop();
  });

  it("a message from someone I block raises no unread or mention badge and reaches no listener; others' still do", () => {
    const { rt, sock, queryClient } = setup();
    queryClient.setQueryData<DMList>(qk.dms, { channels: [dm('g1', ['me', 'a', 'b'], { unreadCount: 0, lastMessageId: '10' })] });
    queryClient.setQueryData(qk.blocked, { users: [user('a')], hasMore: false });
    const heard: string[] = [];
    rt.messages.onIncoming((e) => heard.push(e.message.id));
    const msg = (id: string, senderId: string) => ({ id, channelId: 'g1', senderId, content: 'hi <@me>', mentions: ['me'], mentionEveryone: false, timestamp: '2026-12-06T10:00:00Z', nonce: id });
    sock.fire('message:new', msg('20', 'a'));
    let g1 = queryClient.getQueryData<DMList>(qk.dms)!.channels[0];
    expect([g1.unreadCount, g1.mentionCount, g1.lastMessageId]).toEqual([0, 0, '20']);
    sock.fire('message:new', msg('30', 'b'));
    g1 = queryClient.getQueryData<DMList>(qk.dms)!.channels[0];
    expect([g1.unreadCount, g1.mentionCount]).toEqual([1, 1]);
    expect(heard).toEqual(['30']);
    rt.stop();
  });
});
