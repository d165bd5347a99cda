import { describe, expect, it } from 'vitest';
import { applySync, planSync } from './catchup';
import { addPending, applyNewestPage, emptyChannel, receiveMessage, toItems, type ChannelMessages } from './messageStore';
import { msg } from '../test/fixtures';

function channels(entries: [string, ChannelMessages][]) {
  return new Map(entries);
}

describe('planSync', () => {
  it('asks for each loaded channel from its newest id; skips unloaded; refetches empty ones', () => {
    const a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' }), msg('20', { channelId: 'a' })], true);
    const b = applyNewestPage(emptyChannel(), [], false); // loaded, no messages
    const c = receiveMessage(emptyChannel(), msg('5', { channelId: 'c' })); // only an event, never loaded
    const plan = planSync(channels([['a', a], ['b', b], ['c', c]]));
    expect(plan.payload).toEqual({ channels: { a: '30' } });
    expect(plan.refetch).toEqual(['b']);
  });

  it('uses the newest confirmed id, not a pending send', () => {
    let a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' })], false);
    a = addPending(a, { nonce: 'n', channelId: 'a', senderId: 'me', content: 'x', createdAt: new Date().toISOString() });
    expect(planSync(channels([['a', a]])).payload).toEqual({ channels: { a: '30' } });
  });

  it('can be limited to some channels', () => {
    const a = applyNewestPage(emptyChannel(), [msg('3', { channelId: 'a' })], false);
    const b = applyNewestPage(emptyChannel(), [msg('4', { channelId: 'b' })], false);
    expect(planSync(channels([['a', a], ['b', b]]), ['b']).payload).toEqual({ channels: { b: '4' } });
  });

  it('returns no payload when nothing is loaded', () => {
    expect(planSync(new Map()).payload).toBeNull();
  });
});

describe('applySync', () => {
  it('merges missed messages in order without duplicates', () => {
    const a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' }), msg('20', { channelId: 'a' })], false);
    const res = applySync(channels([['a', a]]), {
      // out of order, and overlapping what we already hold
      messages: { a: [msg('50', { channelId: 'a' }), msg('30', { channelId: 'a' }), msg('40', { channelId: 'a' })] },
      hasMore: { a: false },
    });
    const next = res.updated.get('a')!;
    expect(next.messages.map((m) => m.id)).toEqual(['20', '30', '40', '50']);
    expect(res.added.get('a')!.map((m) => m.id)).toEqual(['40', '50']);
    expect(res.refetch).toEqual([]);
  });

  it('confirms a pending send that was stored while we were away (by nonce)', () => {
    let a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' })], false);
    a = addPending(a, { nonce: 'mine', channelId: 'a', senderId: 'me', content: 'x', createdAt: new Date().toISOString() });
    const res = applySync(channels([['a', a]]), {
      messages: { a: [msg('31', { channelId: 'a', senderId: 'me', nonce: 'mine', content: 'x' })] },
      hasMore: {},
    });
    const items = toItems(res.updated.get('a'));
    expect(items.map((i) => i.key)).toEqual(['30', '31']);
    expect(items.every((i) => i.state === 'sent')).toBe(true);
  });

  it('refetches channels with hasMore instead of merging a partial answer', () => {
    const a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' })], false);
    const b = applyNewestPage(emptyChannel(), [msg('7', { channelId: 'b' })], false);
    const res = applySync(channels([['a', a], ['b', b]]), {
      messages: { a: [msg('31', { channelId: 'a' })], b: [msg('8', { channelId: 'b' })] },
      hasMore: { a: true, b: false },
    });
    expect(res.refetch).toEqual(['a']);
    expect(res.updated.has('a')).toBe(false);
    expect(res.updated.get('b')!.messages.map((m) => m.id)).toEqual(['7', '8']);
  });

  it('ignores channels it does not hold and empty answers', () => {
    const a = applyNewestPage(emptyChannel(), [msg('30', { channelId: 'a' })], false);
    const res = applySync(channels([['a', a]]), { messages: { a: [], zz: [msg('1', { channelId: 'zz' })] }, hasMore: {} });
    expect(res.updated.size).toBe(0);
    expect(res.refetch).toEqual([]);
  });
});
