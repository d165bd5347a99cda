import { describe, expect, it } from 'vitest';
import { firstUnreadId, shortcutFor, stepEntry } from './shortcuts';
import { fuzzyScore, rankSwitch, type SwitchItem } from './switch';

const list = [
  { path: '/a', unread: false },
  { path: '/b', unread: true },
  { path: '/c', unread: false },
  { path: '/d', unread: true },
];

describe('stepEntry (Alt+↑/↓)', () => {
  it('moves to the neighbour and wraps around', () => {
    expect(stepEntry(list, '/a', 1)).toBe('/b');
    expect(stepEntry(list, '/a', -1)).toBe('/d');
    expect(stepEntry(list, '/d', 1)).toBe('/a');
  });
  it('from outside the list starts at the top (↓) or the bottom (↑)', () => {
    expect(stepEntry(list, null, 1)).toBe('/a');
    expect(stepEntry(list, '/elsewhere', -1)).toBe('/d');
  });
  it('with Shift goes to the nearest unread one in that direction, never the current one', () => {
    expect(stepEntry(list, '/a', 1, true)).toBe('/b');
    expect(stepEntry(list, '/b', 1, true)).toBe('/d');
    expect(stepEntry(list, '/b', -1, true)).toBe('/d');
    expect(stepEntry(list, '/c', -1, true)).toBe('/b');
    expect(stepEntry([{ path: '/a', unread: true }], '/a', 1, true)).toBeNull();
    expect(stepEntry(list.map((e) => ({ ...e, unread: false })), '/a', 1, true)).toBeNull();
  });
  it('an empty list goes nowhere', () => {
    expect(stepEntry([], null, 1)).toBeNull();
  });
});

describe('fuzzyScore', () => {
  it('needs every letter in order', () => {
    expect(fuzzyScore('gnl', 'general')).not.toBeNull();
    expect(fuzzyScore('lng', 'general')).toBeNull();
    expect(fuzzyScore('x', 'general')).toBeNull();
  });
  it('ranks prefix > word start > substring > scattered', () => {
    const prefix = fuzzyScore('ran', 'random')!;
    const word = fuzzyScore('ran', 'off-random')!;
    const sub = fuzzyScore('ran', 'xxrandom')!;
    const scattered = fuzzyScore('rdm', 'random')!;
    expect(prefix).toBeGreaterThan(word);
    expect(word).toBeGreaterThan(sub);
    expect(sub).toBeGreaterThan(scattered);
  });
  it('ignores case and a leading # or @', () => {
    expect(fuzzyScore('#GEN', 'general')).toBe(fuzzyScore('gen', 'general'));
    expect(fuzzyScore('@bo', 'Bob')).not.toBeNull();
  });
});

describe('rankSwitch (Ctrl+K)', () => {
  const items: SwitchItem[] = [
    { kind: 'channel', key: 'channel:1', label: 'general', detail: 'Parley HQ', path: '/channels/9/1' },
    { kind: 'channel', key: 'channel:2', label: 'random', detail: 'Parley HQ', path: '/channels/9/2', unread: true },
    { kind: 'dm', key: 'dm:3', label: 'Bob', path: '/channels/@me/3', userId: '7' },
    { kind: 'server', key: 'server:9', label: 'Parley HQ', path: '/channels/9' },
    { kind: 'person', key: 'person:7', label: 'Bob', detail: 'bob.x', userId: '7' },
    { kind: 'person', key: 'person:8', label: 'Carol', detail: 'carol.y', userId: '8' },
  ];
  it('with no query: unread first, no people', () => {
    expect(rankSwitch(items, '').map((i) => i.key)).toEqual(['channel:2', 'channel:1', 'dm:3', 'server:9']);
  });
  it('matches names fuzzily, best first', () => {
    expect(rankSwitch(items, 'gen')[0].key).toBe('channel:1');
    expect(rankSwitch(items, 'rnd')[0].key).toBe('channel:2');
  });
  it('a person with a DM shows once (the DM); others by name or username', () => {
    expect(rankSwitch(items, 'bob').map((i) => i.key)).toEqual(['dm:3']);
    expect(rankSwitch(items, 'carol.y').map((i) => i.key)).toEqual(['person:8']);
  });
  it('finds channels by their server too, below name matches', () => {
    const r = rankSwitch(items, 'parley').map((i) => i.key);
    expect(r[0]).toBe('server:9');
    expect(r).toContain('channel:1');
  });
});

describe('shortcutFor', () => {
  const k = (key: string, m: Partial<KeyboardEvent> = {}) => ({ key, altKey: false, shiftKey: false, ctrlKey: false, metaKey: false, ...m });
  it('knows the app-wide keys', () => {
    expect(shortcutFor(k('ArrowDown', { altKey: true }))).toEqual({ kind: 'step', dir: 1, unread: false });
    expect(shortcutFor(k('ArrowUp', { altKey: true, shiftKey: true }))).toEqual({ kind: 'step', dir: -1, unread: true });
    expect(shortcutFor(k('k', { ctrlKey: true }))).toEqual({ kind: 'switcher' });
    expect(shortcutFor(k('K', { metaKey: true, shiftKey: true }))).toEqual({ kind: 'switcher' });
    expect(shortcutFor(k('/', { ctrlKey: true }))).toEqual({ kind: 'help' });
    expect(shortcutFor(k('PageUp', { shiftKey: true }))).toEqual({ kind: 'first-unread' });
  });
  it('leaves everything else to the page', () => {
    expect(shortcutFor(k('ArrowUp'))).toBeNull();
    expect(shortcutFor(k('k'))).toBeNull();
    expect(shortcutFor(k('ArrowUp', { ctrlKey: true, altKey: true }))).toBeNull();
  });
});

describe('firstUnreadId', () => {
  const msgs = [
    { id: '1', senderId: 'bob' },
    { id: '2', senderId: 'me' },
    { id: '3', senderId: 'bob' },
    { id: '4', senderId: 'me' },
    { id: '5', senderId: 'bob' },
  ];
  it('counts back the unread messages from others', () => {
    expect(firstUnreadId(msgs, 1, 'me')).toBe('5');
    expect(firstUnreadId(msgs, 2, 'me')).toBe('3');
    expect(firstUnreadId(msgs, 3, 'me')).toBe('1');
  });
  it('nothing unread: none; more unread than loaded: the oldest loaded', () => {
    expect(firstUnreadId(msgs, 0, 'me')).toBeNull();
    expect(firstUnreadId(msgs, 10, 'me')).toBe('1');
    expect(firstUnreadId([], 3, 'me')).toBeNull();
  });
});
