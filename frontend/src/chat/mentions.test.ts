import { describe, expect, it } from 'vitest';
import { applyCompletion, findMentionQuery, matchChannels, matchMembers } from './autocomplete';
import { mentionsMe } from './mentions';
import { plainText, titleWithMentions } from './mentionText';

const at = (s: string) => findMentionQuery(s.replace('|', ''), s.indexOf('|'));

describe('findMentionQuery', () => {
  it('finds the @word or #word being typed at the caret', () => {
    expect(at('@|')).toEqual({ trigger: '@', query: '', start: 0, end: 1 });
    expect(at('hi @al|')).toEqual({ trigger: '@', query: 'al', start: 3, end: 6 });
    expect(at('see #gen|')).toEqual({ trigger: '#', query: 'gen', start: 4, end: 8 });
    expect(at('(@bob.x|')).toMatchObject({ query: 'bob.x', start: 1 });
    expect(at('hi\n@Zoë|')).toMatchObject({ query: 'Zoë' });
  });

  it('replaces the whole word when the caret is inside it', () => {
    expect(at('@al|ice rest')).toEqual({ trigger: '@', query: 'al', start: 0, end: 6 });
  });

  it('is nothing in an e-mail address, after a space, or far from the trigger', () => {
    expect(at('mail bob@ex|')).toBeNull();
    expect(at('@bob |')).toBeNull();
    expect(at('plain text|')).toBeNull();
    expect(at('')).toBeNull();
    expect(at('@' + 'x'.repeat(40) + '|')).toBeNull();
  });
});

const members = [
  { id: '1', username: 'alice', displayName: 'Alice Liddell' },
  { id: '2', username: 'bob', displayName: 'Robert Alison' },
  { id: '3', username: 'carol.al', displayName: '' },
  { id: '4', username: 'dave', displayName: 'Dave' },
];

describe('matchMembers', () => {
  it('matches username and display name, prefix before substring, case-insensitively', () => {
    const got = matchMembers(members, 'AL').map((o) => o.id);
    // alice: username prefix; bob: display-name word prefix (Alison); carol.al: username substring.
    expect(got).toEqual(['1', '2', '3']);
    expect(matchMembers(members, 'rob').map((o) => o.id)).toEqual(['2']);
    expect(matchMembers(members, 'zzz')).toEqual([]);
  });

  it('inserts @username and shows the display name (the username when there is none)', () => {
    const [carol] = matchMembers(members, 'carol');
    expect(carol).toMatchObject({ kind: 'user', insert: '@carol.al', displayName: 'carol.al', username: 'carol.al' });
  });

  it('offers everyone and here only when allowed, and limits the list', () => {
    expect(matchMembers(members, 'ever').map((o) => o.insert)).toEqual([]);
    expect(matchMembers(members, 'ever', { allowEveryone: true }).map((o) => o.insert)).toEqual(['@everyone']);
    expect(matchMembers(members, 'her', { allowEveryone: true }).map((o) => o.insert)).toEqual(['@here']);
    expect(matchMembers(members, '', { limit: 2 })).toHaveLength(2);
    expect(matchMembers([...members, ...members], '')).toHaveLength(4); // no duplicates
  });
});

describe('matchChannels', () => {
  it('matches channel names, prefix first', () => {
    const chans = [
      { id: 'a', name: 'general' },
      { id: 'b', name: 'off-topic' },
      { id: 'c', name: 'gaming-general' },
    ];
    expect(matchChannels(chans, 'gen').map((c) => c.insert)).toEqual(['#general', '#gaming-general']);
    expect(matchChannels(chans, 'top').map((c) => c.id)).toEqual(['b']);
    expect(matchChannels(chans, '').map((c) => c.id)).toEqual(['c', 'a', 'b']);
  });
});

describe('applyCompletion', () => {
  it('replaces the query with the pick and a space, caret after it', () => {
    expect(applyCompletion('hi @al', { start: 3, end: 6 }, '@alice')).toEqual({ value: 'hi @alice ', caret: 10 });
    expect(applyCompletion('@al and', { start: 0, end: 3 }, '@alice')).toEqual({ value: '@alice and', caret: 7 });
  });
});

describe('mentionsMe', () => {
  const base = { senderId: 'u2', content: 'hi', mentions: [] as string[], mentionEveryone: false };
  it('is true for a direct mention, @here while online, or @everyone; never for my own messages', () => {
    expect(mentionsMe({ ...base, content: 'hi <@me>', mentions: ['me'] }, 'me')).toBe(true);
    expect(mentionsMe({ ...base, content: '@here', mentions: ['me', 'x'] }, 'me')).toBe(true);
    expect(mentionsMe({ ...base, content: '@everyone', mentionEveryone: true }, 'me')).toBe(true);
    expect(mentionsMe({ ...base, content: '<@x>', mentions: ['x'] }, 'me')).toBe(false);
    expect(mentionsMe({ ...base, senderId: 'me', content: '<@me>', mentions: ['me'] }, 'me')).toBe(false);
    expect(mentionsMe({ senderId: 'u2', content: 'old message without the fields' }, 'me')).toBe(false);
  });

  it('with @everyone suppressed, only direct mentions count', () => {
    expect(mentionsMe({ ...base, content: '@everyone', mentionEveryone: true }, 'me', true)).toBe(false);
    expect(mentionsMe({ ...base, content: '@here', mentions: ['me'] }, 'me', true)).toBe(false);
    expect(mentionsMe({ ...base, content: '@everyone <@me>', mentions: ['me'], mentionEveryone: true }, 'me', true)).toBe(true);
  });
});

describe('plainText and the title', () => {
  it('names mentions and channels, collapses whitespace, cuts long text', () => {
    const names = { user: (id: string) => (id === '1' ? 'Alice' : undefined), channel: (id: string) => (id === '9' ? 'general' : undefined) };
    expect(plainText('hey <@1>\n\nsee <#9> and <@2> <#8>', names)).toBe('hey @Alice see #general and @unknown-user #unknown-channel');
    expect(plainText('x'.repeat(300), names, 10)).toBe('xxxxxxxxx…');
  });

  it('shows the unread mention count in the tab title', () => {
    expect(titleWithMentions(0)).toBe('Parley');
    expect(titleWithMentions(3)).toBe('(3) Parley');
    expect(titleWithMentions(250)).toBe('(99+) Parley');
  });
});
