import { describe, expect, it } from 'vitest';
import type { Message, Reaction, ReactionUpdateEvent } from '../api/types';
import { updateReactions } from './messageEdits';
import { applyNewestPage, emptyChannel, receiveMessage, toItems } from './messageStore';
import { applyReactionEvent, reactedText, setReaction, toggleMine } from './reactions';

const r = (emoji: string, count: number, me: boolean, userIds: string[]): Reaction => ({ emoji, count, me, userIds });
const ev = (over: Partial<ReactionUpdateEvent>): ReactionUpdateEvent => ({
  channelId: 'c',
  messageId: '10',
  emoji: '👍',
  count: 1,
  userId: 'ann',
  action: 'add',
  userIds: ['ann'],
  ...over,
});

describe('reaction updates', () => {
  it('takes the count and users from the server, and `me` only from my own events', () => {
    let list = applyReactionEvent(undefined, ev({}), 'me');
    expect(list).toEqual([r('👍', 1, false, ['ann'])]);
    list = applyReactionEvent(list, ev({ userId: 'me', count: 2, userIds: ['ann', 'me'] }), 'me');
    expect(list).toEqual([r('👍', 2, true, ['ann', 'me'])]);
    // Someone else's removal leaves my `me` alone.
    list = applyReactionEvent(list, ev({ userId: 'ann', action: 'remove', count: 1, userIds: ['me'] }), 'me');
    expect(list).toEqual([r('👍', 1, true, ['me'])]);
    // A new emoji goes last; the last removal drops it.
    list = applyReactionEvent(list, ev({ emoji: '🎉', userId: 'bob', userIds: ['bob'] }), 'me');
    expect(list.map((x) => x.emoji)).toEqual(['👍', '🎉']);
    list = applyReactionEvent(list, ev({ userId: 'me', action: 'remove', count: 0, userIds: [] }), 'me');
    expect(list).toEqual([r('🎉', 1, false, ['bob'])]);
  });

  it('is idempotent: the same event twice (event and ack, two tabs) counts once', () => {
    const once = applyReactionEvent([], ev({ count: 3, userIds: ['a', 'b', 'ann'] }), 'me');
    const twice = applyReactionEvent(once, ev({ count: 3, userIds: ['a', 'b', 'ann'] }), 'me');
    expect(twice).toBe(once);
  });

  it('setReaction keeps the list when nothing changed and removes zero counts', () => {
    const list = [r('👍', 2, true, ['a', 'me'])];
    expect(setReaction(list, r('👍', 2, true, ['a', 'me']))).toBe(list);
    expect(setReaction(list, r('👍', 0, false, []))).toEqual([]);
    expect(setReaction(list, r('🚀', 0, false, []))).toBe(list);
  });
});

describe('my own toggles', () => {
  it('adds and removes me at once, and undoes cleanly', () => {
    const start = [r('👍', 1, false, ['ann'])];
    const added = toggleMine(start, '👍', 'me', true);
    expect(added).toEqual([r('👍', 2, true, ['ann', 'me'])]);
    expect(toggleMine(added, '👍', 'me', true)).toBe(added); // already mine
    const undone = toggleMine(added, '👍', 'me', false);
    expect(undone).toEqual(start);
    expect(toggleMine(undefined, '🎉', 'me', true)).toEqual([r('🎉', 1, true, ['me'])]);
    expect(toggleMine([r('🎉', 1, true, ['me'])], '🎉', 'me', false)).toEqual([]);
  });

  it('does not list more users than the server would', () => {
    const ten = Array.from({ length: 10 }, (_, i) => `u${i}`);
    const added = toggleMine([r('👍', 25, false, ten)], '👍', 'me', true);
    expect(added[0].count).toBe(26);
    expect(added[0].userIds).toEqual(ten);
  });
});

describe('who reacted', () => {
  it('names people, then counts the rest', () => {
    expect(reactedText(['You'], 1, '👍')).toBe('You reacted with 👍');
    expect(reactedText(['Ann', 'You'], 2, '👍')).toBe('Ann and You reacted with 👍');
    expect(reactedText(['Ann', 'Bob', 'Cy'], 3, '🎉')).toBe('Ann, Bob and Cy reacted with 🎉');
    expect(reactedText(['Ann', 'Bob'], 5, '🎉')).toBe('Ann, Bob and 3 others reacted with 🎉');
    expect(reactedText(['Ann'], 2, '🎉')).toBe('Ann and 1 other reacted with 🎉');
    expect(reactedText([], 0, '🎉')).toBe('Nobody reacted with 🎉');
  });
});

describe('reactions in the message store', () => {
  const msg = (over: Partial<Message> = {}): Message => ({
    id: '10',
    channelId: 'c',
    senderId: 'ann',
    content: 'hi',
    timestamp: '2026-01-01T00:00:00Z',
    nonce: 'n',
    ...over,
  });

  it('keeps reactions when a message event (without them) arrives, and takes them from a new history page', () => {
    let st = applyNewestPage(emptyChannel(), [msg({ reactions: [r('👍', 1, false, ['ann'])] })], false);
    st = receiveMessage(st, msg({ content: 'hi (edited)', editedAt: '2026-01-01T00:01:00Z' }));
    expect(st.messages[0].content).toBe('hi (edited)');
    expect(st.messages[0].reactions).toEqual([r('👍', 1, false, ['ann'])]);
    // A reload shows what changed meanwhile, even when nothing else did.
    st = applyNewestPage(st, [msg({ content: 'hi (edited)', editedAt: '2026-01-01T00:01:00Z', reactions: [] })], false);
    expect(st.messages[0].reactions).toEqual([]);
    // An older copy of the message (no edit) still brings fresh reactions.
    st = receiveMessage(st, msg({ reactions: [r('🎉', 1, true, ['me'])] }));
    expect(st.messages[0].content).toBe('hi (edited)');
    expect(st.messages[0].reactions).toEqual([r('🎉', 1, true, ['me'])]);
    expect(toItems(st)[0].reactions).toEqual([r('🎉', 1, true, ['me'])]);
  });

  it('updates one message and ignores unknown ones', () => {
    const st = applyNewestPage(emptyChannel(), [msg()], false);
    const next = updateReactions(st, '10', (list) => applyReactionEvent(list, ev({}), 'me'));
    expect(next.messages[0].reactions).toEqual([r('👍', 1, false, ['ann'])]);
    expect(updateReactions(st, '99', () => [r('👍', 1, false, ['x'])])).toBe(st);
    expect(updateReactions(next, '10', (list) => list ?? [])).toBe(next);
  });
});
