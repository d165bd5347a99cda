// Around-paging (issue #15): jumping to a message far back loads the page around it as a window into the past.
import { describe, expect, it } from 'vitest';
import { msg } from '../test/fixtures';
import { planSync } from './catchup';
import {
  applyNewestPage,
  emptyChannel,
  receiveMessage,
  toItems,
  type ChannelMessages,
} from './messageStore';
import { applyAroundPage, applyNewerPage, applyOlderPage } from './paging';

const ids = (s: ChannelMessages) => s.messages.map((m) => m.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
const page = (list: string[]) => list.map((id) => msg(id));
/** The newest page of a channel whose messages are 100..1099 (1000 of them). */
const present = () => applyNewestPage(emptyChannel(), page(range(1050, 1099)).reverse(), true);

describe('around-paging', () => {
  it('a page far back replaces the list as a window into the past, with a new epoch', () => {
    const s0 = present();
    // limit 50: 25 up to and including 500, 25 newer; the server says there is more.
    const s = applyAroundPage(s0, '500', page(range(476, 525)), true, 50);
    expect(ids(s)).toEqual(range(476, 525));
    expect(s.hasMoreOlder).toBe(true);
    expect(s.hasMoreNewer).toBe(true);
    expect(s.epoch).toBe(s0.epoch + 1);
    expect(s.prepended).toBe(0);
    expect(s.loaded).toBe(true);
  });

  it('tells the sides apart: a short side has no more', () => {
    // Near the start of the channel: only 10 older ones (the first message is 100).
    const nearStart = applyAroundPage(present(), '109', page(range(100, 149)), true, 50);
    expect(nearStart.hasMoreOlder).toBe(false);
    expect(nearStart.hasMoreNewer).toBe(true);
    // A small channel's whole history in one page.
    const all = applyAroundPage(emptyChannel(), '3', page(range(1, 8)), false, 50);
    expect(all.hasMoreOlder).toBe(false);
    expect(all.hasMoreNewer).toBe(false);
  });

  it('a window ignores newer live messages (no gap), but takes edits and sends inside it', () => {
    const s = applyAroundPage(present(), '500', page(range(476, 525)), true, 50);
    const live = receiveMessage(s, msg('1100'));
    expect(live).toBe(s);
    const inside = receiveMessage(s, msg('510', { content: 'edited', editedAt: '2026-11-24T08:00:00Z' }));
    expect(inside.messages.find((m) => m.id === '510')?.content).toBe('edited');
  });

  it('pages both ways from the window: older prepends (scroll anchor), newer appends until the present', () => {
    let s = applyAroundPage(present(), '500', page(range(476, 525)), true, 50);
    s = applyOlderPage(s, page(range(426, 475)).reverse(), true);
    expect(ids(s)[0]).toBe('426');
    expect(s.prepended).toBe(50);
    s = applyNewerPage(s, page(range(526, 575)), true);
    expect(ids(s).at(-1)).toBe('575');
    expect(s.hasMoreNewer).toBe(true);
    s = applyNewerPage(s, page(range(576, 600)), false);
    expect(s.hasMoreNewer).toBe(false);
    expect(ids(s)).toEqual(range(426, 600));
    // At the present again: live messages merge as usual.
    expect(ids(receiveMessage(s, msg('1100'))).at(-1)).toBe('1100');
  });

  it('"Jump to present" (the newest page) replaces the window and starts live again', () => {
    const w = applyAroundPage(present(), '500', page(range(476, 525)), true, 50);
    const s = applyNewestPage(w, page(range(1050, 1099)).reverse(), true);
    expect(ids(s)).toEqual(range(1050, 1099));
    expect(s.hasMoreNewer).toBe(false);
    expect(s.epoch).toBe(w.epoch + 1);
    expect(ids(receiveMessage(s, msg('1100'))).at(-1)).toBe('1100');
  });

  it('a page that overlaps what is loaded is merged (no window, no remount)', () => {
    const s0 = present();
    const s = applyAroundPage(s0, '1040', page(range(1016, 1065)), true, 50);
    expect(ids(s)).toEqual(range(1016, 1099));
    expect(s.hasMoreNewer).toBeFalsy();
    expect(s.hasMoreOlder).toBe(true);
    expect(s.epoch).toBe(s0.epoch);
    expect(s.prepended).toBe(34);
  });

  it('from a window, a jump to a later message far from it opens a new window (no gap); one overlapping extends it', () => {
    const w = applyAroundPage(present(), '500', page(range(476, 525)), true, 50);
    const far = applyAroundPage(w, '800', page(range(776, 825)), true, 50);
    expect(ids(far)).toEqual(range(776, 825));
    expect(far.epoch).toBe(w.epoch + 1);
    expect(far.hasMoreNewer).toBe(true);
    // Back near the present (the page reaches it): live again.
    const now = applyAroundPage(far, '1080', page(range(1056, 1099)), false, 50);
    expect(now.hasMoreNewer).toBe(false);
    expect(ids(now).at(-1)).toBe('1099');
    // Overlapping the window's newer end: merged, still a window.
    const ext = applyAroundPage(w, '530', page(range(506, 555)), true, 50);
    expect(ids(ext)).toEqual(range(476, 555));
    expect(ext.epoch).toBe(w.epoch);
    expect(ext.hasMoreNewer).toBe(true);
  });

  it('catch-up skips a window (it pages forward on its own), and pending sends still show', () => {
    const w = applyAroundPage(present(), '500', page(range(476, 525)), true, 50);
    const plan = planSync(new Map([['c1', w], ['c2', present()]]));
    expect(plan.payload?.channels).toEqual({ c2: '1099' });
    const items = toItems(w);
    expect(items).toHaveLength(50);
  });

  it('replies and pin system lines reach the items; both start a new group', () => {
    let s = applyNewestPage(emptyChannel(), [], false);
    s = receiveMessage(s, msg('1'));
    s = receiveMessage(s, msg('2', { replyTo: '1' }));
    s = receiveMessage(s, msg('3', { type: 'pin', content: '', replyTo: '1' }));
    s = receiveMessage(s, msg('4'));
    const items = toItems(s);
    expect(items.map((i) => [i.replyTo ?? null, i.type, i.groupStart])).toEqual([
      [null, 'default', true],
      ['1', 'default', true],
      ['1', 'pin', true],
      [null, 'default', true],
    ]);
  });
});
