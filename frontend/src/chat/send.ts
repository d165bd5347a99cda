// Sending one message: emit `message:send` with an ack timeout, retry retryable failures a couple of times with
// backoff (always with the same nonce, so the server can recognise a repeat), then give up.
import type { Ack, Message, SendMessagePayload } from '../api/types';

export const SEND_TIMEOUT_MS = 10_000;
export const AUTO_RETRIES = 2;

export type SendEmitter = (payload: SendMessagePayload) => Promise<Ack<{ message: Message }>>;

export type SendOutcome = { ok: true; message: Message } | { ok: false; error: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function backoffMs(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, 30_000);
  return Math.min(500 * 2 ** attempt, 8_000);
}

/**
 * Tries to send, with up to `retries` automatic retries. `onAttempt` runs before every try (so the UI can count
 * attempts); an emit that throws (ack timeout, socket closed) counts as retryable.
 */
export async function sendWithRetry(
  emit: SendEmitter,
  payload: SendMessagePayload,
  opts: { retries?: number; wait?: (ms: number) => Promise<void>; onAttempt?: (n: number) => void } = {},
): Promise<SendOutcome> {
  const retries = opts.retries ?? AUTO_RETRIES;
  const wait = opts.wait ?? sleep;
  let lastError = 'Message could not be sent.';
  for (let attempt = 0; attempt <= retries; attempt++) {
    opts.onAttempt?.(attempt);
    let retryable = true;
    let retryAfter: number | undefined;
    try {
      const ack = await emit(payload);
      if (ack && ack.ok) return { ok: true, message: ack.message };
      const err = ack && !ack.ok ? ack.error : undefined;
      lastError = err?.message || 'Message could not be sent.';
      retryable = !!err?.retryable;
      retryAfter = err?.retryAfterMs;
    } catch (e) {
      lastError = e instanceof Error && /time(d)? ?out/i.test(e.message) ? 'No answer from the server.' : 'Connection problem.';
    }
    if (!retryable || attempt === retries) break;
    await wait(backoffMs(attempt, retryAfter));
  }
  return { ok: false, error: lastError };
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
