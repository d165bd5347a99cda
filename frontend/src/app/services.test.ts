import { QueryObserver } from '@tanstack/react-query';
import { describe, expect, it, vi } from 'vitest';
import { AuthManager } from '../api/auth';
import { ApiError } from '../api/http';
import { createServices, isPermanentError } from './services';

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('query defaults (issue #16 item 3: no request loops on 403/404)', () => {
  it('classifies permanent errors', () => {
    expect(isPermanentError(new ApiError(404, 'not_found', 'x'))).toBe(true);
    expect(isPermanentError(new ApiError(403, 'forbidden', 'x'))).toBe(true);
    expect(isPermanentError(new ApiError(429, 'rate_limited', 'x'))).toBe(false);
    expect(isPermanentError(new ApiError(503, 'unavailable', 'x'))).toBe(false);
    expect(isPermanentError(new ApiError(0, 'network', 'x'))).toBe(false);
    expect(isPermanentError(new Error('x'))).toBe(false);
  });

  it('a 404 is asked once: no retry, and a newly mounted observer does not refetch it', async () => {
    const { queryClient } = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
    const queryFn = vi.fn(async () => {
      throw new ApiError(404, 'not_found', 'Unknown server');
    });
    const first = new QueryObserver(queryClient, { queryKey: ['x'], queryFn });
    const off1 = first.subscribe(() => undefined);
    await settle();
    expect(first.getCurrentResult().status).toBe('error');
    for (let i = 0; i < 3; i++) {
      const again = new QueryObserver(queryClient, { queryKey: ['x'], queryFn });
      const off = again.subscribe(() => undefined);
      await settle();
      expect(again.getCurrentResult().status).toBe('error');
      off();
    }
    expect(queryFn).toHaveBeenCalledTimes(1);
    off1();
  });

  it('a network error is still retried when an observer mounts', async () => {
    const { queryClient } = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
    queryClient.setDefaultOptions({ queries: { ...queryClient.getDefaultOptions().queries, retry: false } });
    const queryFn = vi.fn(async () => {
      throw new ApiError(0, 'network', 'offline');
    });
    const off1 = new QueryObserver(queryClient, { queryKey: ['y'], queryFn }).subscribe(() => undefined);
    await settle();
    const off2 = new QueryObserver(queryClient, { queryKey: ['y'], queryFn }).subscribe(() => undefined);
    await settle();
    expect(queryFn).toHaveBeenCalledTimes(2);
    off1();
    off2();
  });
});
