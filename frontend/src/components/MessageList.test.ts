import { describe, expect, it } from 'vitest';
import type { ChatItem } from '../chat/messageStore';
import { changedAtStart } from './MessageList';

const rows = (...keys: string[]) => keys.map((key) => ({ key }) as ChatItem);

// virtua's `shift` keeps the distance from the end: right when older messages arrive above, wrong for anything else
// (it would push new messages at the bottom out of view).
describe('changedAtStart', () => {
  it('is true when older messages are prepended or the oldest are dropped', () => {
    expect(changedAtStart(rows('3', '4'), rows('1', '2', '3', '4'))).toBe(true);
    expect(changedAtStart(rows('1', '2', '3'), rows('2', '3'))).toBe(true);
  });

  it('is false for messages appended, sent, confirmed or deleted at the end, and for an empty side', () => {
    expect(changedAtStart(rows('1', '2'), rows('1', '2', '3'))).toBe(false);
    expect(changedAtStart(rows('1', '2'), rows('1', '2', 'nonce:a'))).toBe(false);
    expect(changedAtStart(rows('1', 'nonce:a'), rows('1', '5'))).toBe(false);
    expect(changedAtStart(rows('1', '2', '3'), rows('1', '2'))).toBe(false);
    expect(changedAtStart(rows(), rows('1'))).toBe(false);
    expect(changedAtStart(rows('1'), rows())).toBe(false);
  });

  it('is false when both ends change at once (a new page around a jump target replaces the window)', () => {
    expect(changedAtStart(rows('3', '4'), rows('1', '2', '3', '4', '5'))).toBe(false);
  });
});
