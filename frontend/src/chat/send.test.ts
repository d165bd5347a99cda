import { describe, expect, it, vi } from 'vitest';
import type { Ack, Message, SendMessagePayload } from '../api/types';
import { backoffMs, newNonce, sendWithRetry } from './send';
import { msg } from '../test/fixtures';

const noWait = () => Promise.resolve();
const payload: SendMessagePayload = { channelId: 'c1', content: 'hello', nonce: 'nonce-1' };

describe('sendWithRetry', () => {
  it('returns the stored message from an ok ack', async () => {
    const stored = msg('9', { nonce: 'nonce-1' });
    const emit = vi.fn(async (): Promise<Ack<{ message: Message }>> => ({ ok: true, message: stored }));
    expect(await sendWithRetry(emit, payload, { wait: noWait })).toEqual({ ok: true, message: stored });
    expect(emit).toHaveBeenCalledTimes(1);
  });

  it('retries retryable errors with the same nonce, then succeeds', async () => {
    const stored = msg('9', { nonce: 'nonce-1' });
    const answers: Ack<{ message: Message }>[] = [
      { ok: false, error: { code: 'unavailable', message: 'busy', retryable: true } },
      { ok: true, message: stored },
    ];
    const seen: SendMessagePayload[] = [];
    const emit = async (p: SendMessagePayload) => {
      seen.push(p);
      return answers.shift()!;
    };
    const waits: number[] = [];
    const out = await sendWithRetry(emit, payload, { wait: async (ms) => void waits.push(ms) });
    expect(out.ok).toBe(true);
    expect(seen.map((p) => p.nonce)).toEqual(['nonce-1', 'nonce-1']);
    expect(waits).toEqual([500]);
  });

  it('gives up after the automatic retries and reports the error', async () => {
    const emit = vi.fn(async (): Promise<Ack<{ message: Message }>> => ({
      ok: false,
      error: { code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 1200 },
    }));
    const waits: number[] = [];
    const out = await sendWithRetry(emit, payload, { retries: 2, wait: async (ms) => void waits.push(ms) });
    expect(out).toEqual({ ok: false, error: 'slow down' });
    expect(emit).toHaveBeenCalledTimes(3);
    expect(waits).toEqual([1200, 1200]);
  });

  it('does not retry a non-retryable error', async () => {
    const emit = vi.fn(async (): Promise<Ack<{ message: Message }>> => ({
      ok: false,
      error: { code: 'forbidden', message: 'no access', retryable: false },
    }));
    expect(await sendWithRetry(emit, payload, { wait: noWait })).toEqual({ ok: false, error: 'no access' });
    expect(emit).toHaveBeenCalledTimes(1);
  });

  it('treats an ack timeout as retryable', async () => {
    const emit = vi.fn(async (): Promise<Ack<{ message: Message }>> => {
      throw new Error('operation has timed out');
    });
    const out = await sendWithRetry(emit, payload, { retries: 1, wait: noWait });
    expect(out).toEqual({ ok: false, error: 'No answer from the server.' });
    expect(emit).toHaveBeenCalledTimes(2);
  });

  it('backs off exponentially with a cap', () => {
    expect([0, 1, 2, 10].map((n) => backoffMs(n))).toEqual([500, 1000, 2000, 8000]);
  });
});

describe('newNonce', () => {
  it('makes distinct v4 UUIDs', () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newNonce()).not.toBe(a);
  });
});
