import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/http';
import { msg } from '../test/fixtures';
import { applyDelete } from './messageEdits';
import { applyNewestPage, emptyChannel } from './messageStore';
import { findLoaded } from './messageStore';
import { firstLine, OriginalsCache, resolveQuote } from './replies';

const loaded = (...ids: string[]) => applyNewestPage(emptyChannel(), ids.map((id) => msg(id)), false);

describe('reply quotes', () => {
  it('takes the original from the loaded messages', () => {
    const st = loaded('10', '20', '30');
    expect(resolveQuote('20', st, undefined)).toEqual({ status: 'loaded', message: st.messages[1] });
    expect(findLoaded(st, '30')?.id).toBe('30');
    expect(findLoaded(st, '25')).toBeUndefined();
  });

  it('asks for an original that is not loaded, then shows the fetched one (cached: fetched once)', async () => {
    const st = loaded('900', '901');
    const original = msg('5', { content: 'first line\nsecond line' });
    const fetchOne = vi.fn(async () => ({ message: original }));
    const cache = new OriginalsCache(fetchOne);
    expect(resolveQuote('5', st, cache.get('c1', '5'))).toEqual({ status: 'unknown' });
    const seen = vi.fn();
    cache.subscribe(seen);
    const p = cache.load('c1', '5');
    expect(resolveQuote('5', st, cache.get('c1', '5'))).toEqual({ status: 'loading' });
    void cache.load('c1', '5');
    await p;
    expect(fetchOne).toHaveBeenCalledTimes(1);
    expect(fetchOne).toHaveBeenCalledWith('c1', '5');
    expect(seen).toHaveBeenCalled();
    const q = resolveQuote('5', st, cache.get('c1', '5'));
    expect(q).toEqual({ status: 'loaded', message: original });
    expect(firstLine(original.content)).toBe('first line');
  });

  it('a 404 means deleted; another error can be tried again', async () => {
    const fetchOne = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(404, 'not_found', 'Message not found.'))
      .mockRejectedValueOnce(new ApiError(503, 'unavailable', 'busy'))
      .mockResolvedValueOnce({ message: msg('7') });
    const cache = new OriginalsCache(fetchOne);
    await cache.load('c1', '6');
    expect(resolveQuote('6', undefined, cache.get('c1', '6'))).toEqual({ status: 'deleted' });
    await cache.load('c1', '6'); // deleted stays deleted, no new fetch
    expect(fetchOne).toHaveBeenCalledTimes(1);

    await cache.load('c1', '7');
    expect(resolveQuote('7', undefined, cache.get('c1', '7'))).toEqual({ status: 'error' });
    await cache.load('c1', '7');
    expect(resolveQuote('7', undefined, cache.get('c1', '7'))).toMatchObject({ status: 'loaded' });
  });

  it('message:deleted turns a shown quote into "deleted", loaded or fetched', async () => {
    let st = loaded('10', '20');
    const cache = new OriginalsCache(async () => ({ message: msg('3') }));
    await cache.load('c1', '3');
    expect(resolveQuote('3', st, cache.get('c1', '3')).status).toBe('loaded');
    cache.markDeleted('c1', '3');
    expect(resolveQuote('3', st, cache.get('c1', '3'))).toEqual({ status: 'deleted' });

    expect(resolveQuote('10', st, undefined).status).toBe('loaded');
    st = applyDelete(st, '10');
    expect(resolveQuote('10', st, undefined)).toEqual({ status: 'deleted' });
  });

  it('a fetch that answers after the delete event does not bring the original back', async () => {
    let answer!: (v: { message: ReturnType<typeof msg> }) => void;
    const cache = new OriginalsCache(() => new Promise((r) => (answer = r)));
    const p = cache.load('c1', '4');
    cache.markDeleted('c1', '4');
    answer({ message: msg('4') });
    await p;
    expect(cache.get('c1', '4')).toEqual({ status: 'deleted' });
  });

  it('keeps a cached original current on edits', async () => {
    const cache = new OriginalsCache(async () => ({ message: msg('8', { content: 'old' }) }));
    await cache.load('c1', '8');
    cache.update(msg('8', { content: 'new', editedAt: '2026-11-24T08:00:00Z' }));
    expect(resolveQuote('8', undefined, cache.get('c1', '8'))).toMatchObject({ status: 'loaded', message: { content: 'new' } });
  });

  it('first line: skips blank lines and shortens long ones', () => {
    expect(firstLine('\n\n  hello  \nworld')).toBe('hello');
    expect(firstLine('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
