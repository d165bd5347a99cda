// Sending helpers: the ack timeout, the retry backoff and nonces. The queue that sends (and keeps trying while
// offline) is chat/outbox.ts.

export const SEND_TIMEOUT_MS = 10_000;

export function backoffMs(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, 30_000);
  return Math.min(500 * 2 ** attempt, 8_000);
}

/** crypto.randomUUID needs a secure context; fall back to getRandomValues on plain http. */
export function newNonce(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
