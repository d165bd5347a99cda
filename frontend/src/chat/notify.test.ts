import { describe, expect, it } from 'vitest';
import type { NotificationSettings } from '../api/types';
import { decideIncoming } from './incoming';
import { DEFAULT_SETTINGS, normalizeSettings, showsUnread, type Place } from './notify';
import { shouldPrompt, toggleId } from './notifyControls';

const S = (over: Partial<NotificationSettings> = {}): NotificationSettings => ({ ...DEFAULT_SETTINGS, desktop: 'all', ...over });
const text: Place = { type: 'text', serverId: 's1' };
const dm: Place = { type: 'dm' };
const plain = { channelId: 'c1', senderId: 'u2', content: 'hello', mentions: [] as string[], mentionEveryone: false };
const direct = { ...plain, content: 'hi <@me>', mentions: ['me'] };
const everyone = { ...plain, content: '@everyone', mentionEveryone: true };
const here = { ...plain, content: '@here', mentions: ['me'] };

const decide = (message: typeof plain, place: Place | undefined, settings = S(), o: { viewing?: boolean; hidden?: boolean } = {}) =>
  decideIncoming({ message, meId: 'me', place, settings, viewing: o.viewing ?? false, hidden: o.hidden ?? true });

describe('decideIncoming', () => {
  it('notifies (hidden tab) and sounds for messages of unmuted channels with desktop "all"', () => {
    expect(decide(plain, text)).toEqual({ mention: false, muted: false, notify: true, sound: true });
    expect(decide(direct, text)).toEqual({ mention: true, muted: false, notify: true, sound: true });
  });

  it('notifies only while the tab is hidden, and not at all for the channel being viewed', () => {
    expect(decide(direct, text, S(), { hidden: false })).toMatchObject({ mention: true, notify: false, sound: true });
    expect(decide(direct, text, S(), { hidden: false, viewing: true })).toMatchObject({ mention: true, notify: false, sound: false });
  });

  it('"mentions": mentions and DMs only', () => {
    const s = S({ desktop: 'mentions' });
    expect(decide(plain, text, s)).toMatchObject({ notify: false, sound: false });
    expect(decide(direct, text, s)).toMatchObject({ notify: true });
    expect(decide(everyone, text, s)).toMatchObject({ mention: true, notify: true });
    expect(decide(plain, dm, s)).toMatchObject({ notify: true, sound: true });
    expect(decide(plain, undefined, s)).toMatchObject({ notify: true }); // an unknown channel is a new DM
  });

  it('"none": nothing notifies or sounds, mentions still count', () => {
    expect(decide(direct, text, S({ desktop: 'none' }))).toEqual({ mention: true, muted: false, notify: false, sound: false });
  });

  it('muted channels and servers: only mentions notify', () => {
    for (const s of [S({ mutedChannels: ['c1'] }), S({ mutedServers: ['s1'] })]) {
      expect(decide(plain, text, s)).toEqual({ mention: false, muted: true, notify: false, sound: false });
      expect(decide(direct, text, s)).toEqual({ mention: true, muted: true, notify: true, sound: true });
    }
    expect(decide(plain, dm, S({ mutedChannels: ['c1'] }))).toMatchObject({ muted: true, notify: false });
    expect(decide(plain, dm, S({ mutedServers: ['s1'] }))).toMatchObject({ muted: false, notify: true });
  });

  it('suppressed @everyone/@here are no mentions in that server; direct mentions still are', () => {
    const s = S({ suppressEveryone: ['s1'], desktop: 'mentions' });
    expect(decide(everyone, text, s)).toMatchObject({ mention: false, notify: false });
    expect(decide(here, text, s)).toMatchObject({ mention: false, notify: false });
    expect(decide(direct, text, s)).toMatchObject({ mention: true, notify: true });
    expect(decide(everyone, { type: 'text', serverId: 's2' }, s)).toMatchObject({ mention: true });
  });

  it('sound off: notifications without sound; my own messages do nothing', () => {
    expect(decide(direct, text, S({ notifySound: false }))).toMatchObject({ notify: true, sound: false });
    expect(decide({ ...direct, senderId: 'me' }, text)).toEqual({ mention: false, muted: false, notify: false, sound: false });
  });

  it('a message from someone I block: no mention, no notification, no sound', () => {
    const nothing = { mention: false, muted: false, notify: false, sound: false };
    expect(decideIncoming({ message: direct, meId: 'me', place: text, settings: S(), viewing: false, hidden: true, blocked: true })).toEqual(nothing);
    expect(decideIncoming({ message: plain, meId: 'me', place: dm, settings: S(), viewing: false, hidden: true, blocked: true })).toEqual(nothing);
  });
});

describe('settings helpers', () => {
  it('badges: muted channels show no unread badge, but mentions', () => {
    expect(showsUnread({ id: 'c', unreadCount: 3, mentionCount: 0 }, false)).toBe(true);
    expect(showsUnread({ id: 'c', unreadCount: 3, mentionCount: 0 }, true)).toBe(false);
    expect(showsUnread({ id: 'c', unreadCount: 3, mentionCount: 1 }, true)).toBe(true);
    expect(showsUnread({ id: 'c', unreadCount: 0, mentionCount: 0 }, false)).toBe(false);
  });

  it('toggles ids, keeping the same object when nothing changes and at most 500 ids', () => {
    const s = S();
    expect(toggleId(s, 'mutedChannels', 'c1', false)).toBe(s);
    const on = toggleId(s, 'mutedChannels', 'c1', true);
    expect(on.mutedChannels).toEqual(['c1']);
    expect(toggleId(on, 'mutedChannels', 'c1', false).mutedChannels).toEqual([]);
    const full = S({ mutedServers: Array.from({ length: 500 }, (_, i) => `s${i}`) });
    const more = toggleId(full, 'mutedServers', 'new', true).mutedServers;
    expect(more).toHaveLength(500);
    expect(more.at(-1)).toBe('new');
  });

  it('normalizes what the server sends', () => {
    expect(normalizeSettings(undefined)).toEqual(DEFAULT_SETTINGS);
    expect(normalizeSettings({ desktop: 'loud' as never, mutedChannels: ['a', 3 as never], notifySound: false })).toEqual({
      ...DEFAULT_SETTINGS,
      mutedChannels: ['a'],
      notifySound: false,
    });
  });

  it('prompts for permission only when it can help and never on first load', () => {
    const base = { supported: true, permission: 'default' as const, desktop: 'all' as const, dismissed: false, engaged: true };
    expect(shouldPrompt(base)).toBe(true);
    expect(shouldPrompt({ ...base, engaged: false })).toBe(false);
    expect(shouldPrompt({ ...base, dismissed: true })).toBe(false);
    expect(shouldPrompt({ ...base, permission: 'granted' })).toBe(false);
    expect(shouldPrompt({ ...base, permission: 'denied' })).toBe(false);
    expect(shouldPrompt({ ...base, desktop: 'none' })).toBe(false);
    expect(shouldPrompt({ ...base, supported: false })).toBe(false);
  });
});

describe('do not disturb (issue #16)', () => {
  it('silences desktop notifications and sounds, but a mention still counts', () => {
    const base = { meId: 'me', place: { type: 'dm' } as const, viewing: false, hidden: true };
    const message = { channelId: 'c', senderId: 'bob', content: 'hi <@me>', mentions: ['me'], mentionEveryone: false };
    const on = decideIncoming({ ...base, message, settings: { ...DEFAULT_SETTINGS, desktop: 'all' } });
    expect(on).toMatchObject({ notify: true, sound: true, mention: true });
    const dnd = decideIncoming({ ...base, message, settings: { ...DEFAULT_SETTINGS, desktop: 'all', status: 'dnd' } });
    expect(dnd).toMatchObject({ notify: false, sound: false, mention: true });
  });
  it('the status survives normalizing; anything unknown is online', () => {
    expect(normalizeSettings({ status: 'invisible' }).status).toBe('invisible');
    expect(normalizeSettings({ status: 'busy' as never }).status).toBe('online');
    expect(normalizeSettings(undefined).status).toBe('online');
  });
});
