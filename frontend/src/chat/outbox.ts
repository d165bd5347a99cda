// The outbox: own messages waiting to be stored, sent one at a time in the order they were written, each always
// with its own nonce (the server answers a repeat with the message stored for the first attempt).
//
// What the connection banner promises ("Messages will be sent when you're back online") holds for as long as the
// page lives: while disconnected nothing is sent and nothing gives up; a timeout, a dropped connection or a
// retryable refusal (rate limit, server busy or restarting) keeps the message queued and tries again, after a
// backoff or on the next connect. Only a real refusal (validation, forbidden, not found...) marks a message failed;
// the user can retry it (it joins the end of the queue) or discard it.
//
// End-to-end encrypted DMs: the server, not this browser, knows whether a DM is encrypted. A send to a DM the
// cache says is encrypted is sealed (the E2EE part, loaded on demand) before it goes out; a plaintext send the server
// refuses with `encryption_required` (the cache was stale, or this browser never opened the DM) is sealed and sent
// again at once with the same nonce, so it is stored exactly once, and only as ciphertext. Before storing a sealed
// send the server asks the key service (the rotation policy): `rotation_overdue` or `stale_epoch` in the ack means
// nothing was stored, and the same nonce is sealed anew (after a rotation or catch-up) and sent again at once —
// twice at most in a row, then with the backoff of a retryable refusal.
//
// Sending strictly one at a time keeps one sender's order: the server assigns ids in acceptance order, and the
// next message is emitted only after the previous one was acknowledged (or refused).
import type { Ack, Message, SendMessagePayload } from '../api/types';
import { backoffMs } from './send';

export interface OutboxDeps {
  /** Emits `message:send` with an ack timeout; throws on timeout or when the socket closes. */
  emit: (payload: SendMessagePayload) => Promise<Ack<{ message: Message }>>;
  connected: () => boolean;
  /** The content still waiting under this nonce, or undefined once it was discarded or seen stored (catch-up, event). */
  content: (channelId: string, nonce: string) => string | undefined;
  /** The message a queued send answers, if any (sent as `replyTo`). */
  replyTo?: (channelId: string, nonce: string) => string | null | undefined;
  /** Ids of the files a queued send carries, if any. */
  attachments?: (channelId: string, nonce: string) => string[] | undefined;
  onAttempt?: (channelId: string, nonce: string) => void;
  onSent: (channelId: string, message: Message) => void;
  onFailed: (channelId: string, nonce: string, error: string) => void;
  wait?: (ms: number) => Promise<void>;
  /** Whether sends to a channel must be sealed (a DM the server says is end-to-end encrypted). */
  encrypted?: (channelId: string) => boolean;
  /**
   * Seals a send (MLS ciphertext, `encrypted: true`). Throws SendRefused for what can never be sent sealed (the
   * message then fails, not retried); any other error is retried like a timeout (e.g. this device not yet added).
   */
  seal?: (payload: SendMessagePayload, refused?: 'rotation_overdue' | 'stale_epoch') => Promise<SendMessagePayload>;
  /** The server said the channel is encrypted (`encryption_required`): its cached flag was stale. */
  onEncryptionRequired?: (channelId: string) => void;
}

/** A send that can never succeed as it is (thrown by OutboxDeps.seal): failed at once, never retried. */
export class SendRefused extends Error {}

interface Item {
  channelId: string;
  nonce: string;
  attempt: number;
  /** The server asked for ciphertext (encryption_required): seal from now on, whatever the cache says. */
  seal?: boolean;
  /** The server refused the last ciphertext by the key service's policy: seal anew (count of such refusals). */
  refused?: 'rotation_overdue' | 'stale_epoch';
  reseals?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Outbox {
  private queue: Item[] = [];
  private running = false;
  private paused = false;
  private wake: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly deps: OutboxDeps) {}

  /** Queues a message (its pending copy must already exist); sending starts at once when connected. */
  enqueue(channelId: string, nonce: string) {
    if (this.stopped || this.queue.some((i) => i.nonce === nonce)) return;
    this.queue.push({ channelId, nonce, attempt: 0 });
    void this.pump();
  }

  /** Nonces waiting, in sending order. */
  get waiting(): string[] {
    return this.queue.map((i) => i.nonce);
  }

  /** Hold sends (e.g. while a reconnect catches up, so messages already stored are recognised first). */
  pause() {
    this.paused = true;
  }

  /** Connected again (or catch-up done): go on at once, skipping any backoff in progress. */
  resume() {
    this.paused = false;
    const w = this.wake;
    this.wake = null;
    w?.();
    void this.pump();
  }

  stop() {
    this.stopped = true;
    this.queue = [];
    this.resume();
  }

  /** Waits `ms`, or less if resume() is called. */
  private pauseFor(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        if (this.wake === finish) this.wake = null;
        resolve();
      };
      this.wake = finish;
      void (this.deps.wait ?? sleep)(ms).then(finish);
    });
  }

  private async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        if (this.paused || !this.deps.connected()) return; // resume() (on connect) starts again
        const item = this.queue[0];
        const content = this.deps.content(item.channelId, item.nonce);
        if (content === undefined) {
          this.queue.shift();
          continue;
        }
        this.deps.onAttempt?.(item.channelId, item.nonce);
        let ack: Ack<{ message: Message }> | undefined;
        let refused: string | undefined;
        try {
          const replyTo = this.deps.replyTo?.(item.channelId, item.nonce);
          const attachments = this.deps.attachments?.(item.channelId, item.nonce);
          let payload: SendMessagePayload = {
            channelId: item.channelId,
            content,
            nonce: item.nonce,
            ...(replyTo ? { replyTo } : {}),
            ...(attachments?.length ? { attachments } : {}),
          };
          if (this.deps.seal && (item.seal || this.deps.encrypted?.(item.channelId))) {
            payload = await this.deps.seal(payload, item.refused);
            item.refused = undefined; // sealed anew: a retry of this one (a timeout) keeps its ciphertext
          }
          ack = await this.deps.emit(payload);
        } catch (e) {
          if (e instanceof SendRefused) refused = e.message;
          ack = undefined; // timeout, disconnect, or sealing not possible yet: try again
        }
        if (this.stopped) return;
        if (ack?.ok) {
          this.queue.shift();
          this.deps.onSent(item.channelId, ack.message);
          continue;
        }
        if (refused !== undefined) {
          this.queue.shift();
          this.deps.onFailed(item.channelId, item.nonce, refused);
          continue;
        }
        const err = ack && !ack.ok ? ack.error : undefined;
        if (err?.code === 'encryption_required' && this.deps.seal && !item.seal) {
          // Not stored (refused): the same nonce again, sealed, at once.
          item.seal = true;
          this.deps.onEncryptionRequired?.(item.channelId);
          continue;
        }
        if (err?.code === 'rotation_overdue' || err?.code === 'stale_epoch') {
          item.refused = err.code; // not stored: seal anew, at once twice, then after the backoff below
          if ((item.reseals = (item.reseals ?? 0) + 1) <= 2) continue;
        } else if (err && !err.retryable) {
          this.queue.shift();
          this.deps.onFailed(item.channelId, item.nonce, err.message || 'Message could not be sent.');
          continue;
        }
        // Retryable: the same message again, after a backoff (cut short by a reconnect).
        const delay = backoffMs(item.attempt, err?.retryAfterMs);
        item.attempt++;
        await this.pauseFor(delay);
      }
    } finally {
      this.running = false;
    }
    // A resume() or enqueue() may have arrived while the loop was finishing.
    if (!this.stopped && !this.paused && this.queue.length > 0 && this.deps.connected()) void this.pump();
  }
}
