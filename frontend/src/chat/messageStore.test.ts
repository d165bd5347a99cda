import { describe, expect, it } from 'vitest';
import {
  addPending,
  applyNewestPage,
  emptyChannel,
  groupItems,
  mergeSorted,
  receiveMessage,
  receiveMessages,
  toItems,
  type ChannelMessages,
} from './messageStore';
import { applyDelete, applyUpdate, discardPending, markFailed, markSending } from './messageEdits';
import { applyOlderPage } from './paging';
import { msg } from '../test/fixtures';

const ids = (s: ChannelMessages) => s.messages.map((m) => m.id);

function loaded(...idList: string[]): ChannelMessages {
  return applyNewestPage(emptyChannel(), idList.map((id) => msg(id)).reverse(), false);
}

describe('ordering', () => {
  it('keeps messages sorted by id however they arrive', () => {
    let s = emptyChannel();
    for (const id of ['1839000000000000005', '1839000000000000001', '1839000000000000003']) s = receiveMessage(s, msg(id));
    expect(ids(s)).toEqual(['1839000000000000001', '1839000000000000003', '1839000000000000005']);
  });

  it('orders 64-bit ids correctly past 2^53', () => {
    const s = receiveMessages(emptyChannel(), [msg('9007199254740993'), msg('9007199254740992'), msg('10000000000000000')]);
    expect(ids(s)).toEqual(['9007199254740992', '9007199254740993', '10000000000000000']);
  });

  it('puts a page given newest-first into ascending order', () => {
    const s = applyNewestPage(emptyChannel(), [msg('30'), msg('20'), msg('10')], true);
    expect(ids(s)).toEqual(['10', '20', '30']);
    expect(s.loaded).toBe(true);
    expect(s.hasMoreOlder).toBe(true);
  });
});

describe('dedupe', () => {
  it('ignores a message it already has (same id)', () => {
    const s = loaded('1', '2');
    const again = receiveMessage(s, { ...s.messages[1] });
    expect(again).toBe(s);
    expect(ids(again)).toEqual(['1', '2']);
  });

  it('dedupes within one batch', () => {
    const s = receiveMessages(emptyChannel(), [msg('5'), msg('5'), msg('4')]);
    expect(ids(s)).toEqual(['4', '5']);
  });

  it('a newer edit wins over an older copy, in either order', () => {
    const base = msg('7', { content: 'old' });
    const edited = { ...base, content: 'new', editedAt: '2026-11-24T08:00:00.000Z' };
    expect(receiveMessage(receiveMessage(emptyChannel(), edited), base).messages[0].content).toBe('new');
    expect(receiveMessage(receiveMessage(emptyChannel(), base), edited).messages[0].content).toBe('new');
  });

  it('mergeSorted returns the same array when nothing changes', () => {
    const list = [msg('1'), msg('2')];
    expect(mergeSorted(list, [list[0]])).toBe(list);
    expect(mergeSorted(list, [])).toBe(list);
  });
});

describe('pending sends', () => {
  const pending = (nonce: string, content = 'hi') => ({
    nonce,
    channelId: 'c1',
    senderId: 'me',
    content,
    createdAt: '2026-11-24T07:30:00.000Z',
  });

  it('shows a pending message after the confirmed ones', () => {
    const s = addPending(loaded('1', '2'), pending('n1'));
    const items = toItems(s);
    expect(items.map((i) => i.key)).toEqual(['1', '2', 'nonce:n1']);
    expect(items[2].state).toBe('pending');
    expect(items[2].id).toBeNull();
  });

  it('the ack replaces the pending message (matched by nonce)', () => {
    let s = addPending(loaded('1'), pending('n1'));
    s = receiveMessage(s, msg('9', { senderId: 'me', nonce: 'n1', content: 'hi' }));
    expect(s.pending).toHaveLength(0);
    expect(ids(s)).toEqual(['1', '9']);
    expect(toItems(s).map((i) => i.state)).toEqual(['sent', 'sent']);
  });

  it('message:new for our nonce before the ack does not duplicate, nor does the ack after it', () => {
    let s = addPending(loaded('1'), pending('n1'));
    const stored = msg('9', { senderId: 'me', nonce: 'n1', content: 'hi' });
    s = receiveMessage(s, stored); // message:new first
    s = receiveMessage(s, { ...stored }); // then the ack
    s = receiveMessage(s, { ...stored }); // then message:sent
    expect(toItems(s)).toHaveLength(2);
    expect(s.pending).toHaveLength(0);
  });

  it('a message from someone else with another nonce leaves the pending one alone', () => {
    let s = addPending(loaded('1'), pending('n1'));
    s = receiveMessage(s, msg('10', { senderId: 'u2', nonce: 'other' }));
    expect(toItems(s).map((i) => i.key)).toEqual(['1', '10', 'nonce:n1']);
  });

  it('does not add the same nonce twice', () => {
    const s = addPending(emptyChannel(), pending('n1'));
    expect(addPending(s, pending('n1'))).toBe(s);
  });

  it('failed → retry → sent keeps the same nonce', () => {
    let s = addPending(loaded('1'), pending('n1'));
    s = markSending(s, 'n1');
    s = markFailed(s, 'n1', 'No answer from the server.');
    let item = toItems(s).at(-1)!;
    expect(item.state).toBe('failed');
    expect(item.error).toBe('No answer from the server.');
    expect(item.nonce).toBe('n1');

    s = markSending(s, 'n1');
    item = toItems(s).at(-1)!;
    expect(item.state).toBe('pending');
    expect(item.error).toBeUndefined();
    expect(s.pending[0].attempts).toBe(2);

    s = receiveMessage(s, msg('11', { senderId: 'me', nonce: 'n1' }));
    expect(s.pending).toHaveLength(0);
    expect(toItems(s).at(-1)!.state).toBe('sent');
  });

  it('discarding a failed message removes it', () => {
    let s = markFailed(addPending(emptyChannel(), pending('n1')), 'n1', 'x');
    s = discardPending(s, 'n1');
    expect(toItems(s)).toHaveLength(0);
  });

  it('markFailed on an unknown nonce is a no-op (already confirmed)', () => {
    const s = loaded('1');
    expect(markFailed(s, 'gone', 'x')).toBe(s);
  });
});

describe('history pages', () => {
  it('prepends older pages and counts the prepended items', () => {
    let s = applyNewestPage(emptyChannel(), [msg('50'), msg('40')], true);
    s = applyOlderPage(s, [msg('30'), msg('20'), msg('40')], false);
    expect(ids(s)).toEqual(['20', '30', '40', '50']);
    expect(s.prepended).toBe(2);
    expect(s.hasMoreOlder).toBe(false);
  });

  it('a newest page keeps events that raced it and drops what is disconnected', () => {
    let s = receiveMessage(emptyChannel(), msg('99')); // event before the page arrived
    s = applyNewestPage(s, [msg('98'), msg('97')], true);
    expect(ids(s)).toEqual(['97', '98', '99']);

    // Later, a refetch after a long disconnect: the old ones are dropped (gap), list epoch bumps.
    const before = s.epoch;
    s = applyNewestPage(s, [msg('200'), msg('199')], true);
    expect(ids(s)).toEqual(['199', '200']);
    expect(s.epoch).toBe(before + 1);
  });

  it('edits and deletes apply; a deleted message is not resurrected by a late copy', () => {
    let s = loaded('1', '2', '3');
    s = applyUpdate(s, { ...s.messages[1], content: 'changed', editedAt: '2026-11-24T09:00:00Z' });
    expect(s.messages[1].content).toBe('changed');
    expect(toItems(s)[1].editedAt).toBe('2026-11-24T09:00:00Z');
    s = applyDelete(s, '2');
    expect(ids(s)).toEqual(['1', '3']);
    s = receiveMessage(s, msg('2'));
    expect(ids(s)).toEqual(['1', '3']);
  });

  it('an update for a message not loaded is ignored', () => {
    const s = loaded('1');
    expect(applyUpdate(s, msg('5'))).toBe(s);
  });
});

describe('grouping', () => {
  const at = (min: number, sec = 0) => new Date(2026, 10, 24, 12, min, sec).toISOString();
  const item = (key: string, senderId: string, timestamp: string) => ({
    key,
    id: key,
    nonce: key,
    channelId: 'c1',
    senderId,
    content: key,
    timestamp,
    state: 'sent' as const,
  });

  it('groups consecutive messages by one author within 5 minutes', () => {
    const out = groupItems([
      item('1', 'a', at(0)),
      item('2', 'a', at(1)),
      item('3', 'a', at(5, 30)), // 4.5 min after the previous: same group
      item('4', 'b', at(6)),
      item('5', 'a', at(6, 10)),
      item('6', 'a', at(12)), // > 5 min gap
    ]);
    expect(out.map((x) => x.groupStart)).toEqual([true, false, false, true, true, true]);
  });

  it('starts a new group and a day divider on a new day', () => {
    const out = groupItems([
      item('1', 'a', new Date(2026, 10, 24, 23, 59).toISOString()),
      item('2', 'a', new Date(2026, 10, 25, 0, 1).toISOString()),
    ]);
    expect(out.map((x) => [x.groupStart, x.dayStart])).toEqual([
      [true, true],
      [true, true],
    ]);
  });

  it('a pending send groups under the same author', () => {
    let s = applyNewestPage(emptyChannel(), [msg('1', { senderId: 'me', timestamp: at(0) })], false);
    s = addPending(s, { nonce: 'n', channelId: 'c1', senderId: 'me', content: 'x', createdAt: at(1) });
    expect(toItems(s).map((i) => i.groupStart)).toEqual([true, false]);
  });
});
