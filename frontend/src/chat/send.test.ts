import { describe, expect, it } from 'vitest';
import { backoffMs, newNonce } from './send';

describe('backoffMs', () => {
  it('backs off exponentially with a cap', () => {
    expect([0, 1, 2, 10].map((n) => backoffMs(n))).toEqual([500, 1000, 2000, 8000]);
  });

  it('follows Retry-After, capped at 30 s', () => {
    expect(backoffMs(0, 1200)).toBe(1200);
    expect(backoffMs(3, 90_000)).toBe(30_000);
  });
});

describe('newNonce', () => {
  it('makes distinct v4 UUIDs', () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newNonce()).not.toBe(a);
  });
});
