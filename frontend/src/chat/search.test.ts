import { describe, expect, it } from 'vitest';
import type { SearchResult } from '../api/types';
import { groupByChannel, highlightSegments } from './search';

const r = (id: string, channelId: string): SearchResult => ({
  message: { id, channelId, senderId: '1', content: id, timestamp: '2026-01-01T00:00:00Z', nonce: '' },
  highlights: [],
});

describe('groupByChannel', () => {
  it('keeps channels in the order of their newest result', () => {
    const groups = groupByChannel([r('9', 'b'), r('8', 'a'), r('7', 'b'), r('6', 'c')]);
    expect(groups.map((g) => [g.channelId, g.results.map((x) => x.message.id)])).toEqual([
      ['b', ['9', '7']],
      ['a', ['8']],
      ['c', ['6']],
    ]);
  });
});

describe('highlightSegments', () => {
  it('marks the ranges', () => {
    expect(highlightSegments('the quick fox', [{ start: 4, end: 9 }])).toEqual([
      { text: 'the ', mark: false },
      { text: 'quick', mark: true },
      { text: ' fox', mark: false },
    ]);
  });
  it('counts UTF-16 units like the API', () => {
    expect(highlightSegments('😀 hi', [{ start: 3, end: 5 }])).toEqual([
      { text: '😀 ', mark: false },
      { text: 'hi', mark: true },
    ]);
  });
  it('ignores overlapping, unordered and out-of-range ranges', () => {
    expect(highlightSegments('abcdef', [{ start: 4, end: 99 }, { start: 0, end: 2 }, { start: 1, end: 3 }, { start: 7, end: 9 }])).toEqual([
      { text: 'ab', mark: true },
      { text: 'c', mark: true },
      { text: 'd', mark: false },
      { text: 'ef', mark: true },
    ]);
    expect(highlightSegments('', [])).toEqual([{ text: '', mark: false }]);
  });
});
