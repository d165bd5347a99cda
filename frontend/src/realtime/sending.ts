// Sending: my messages (queued in the outbox, sealed in an encrypted DM), edits, deletes and reactions, each
// shown at once and set to what the server answers. What the first paint needs is here: a message sent is shown
// at once and queued in order; the rest (the outbox's wiring, retries, edits, deletes, reactions, pins) is
// realtime/senderOps.ts, which comes with live.ts beside the socket client; nothing can reach the server before.
import type { QueryClient } from '@tanstack/react-query';
import type { Api } from '../api/endpoints';
import type { Attachment, Id } from '../api/types';
import { addPending } from '../chat/messageStore';
import type { Outbox } from '../chat/outbox';
import type { OriginalsCache } from '../chat/replies';
import { newNonce } from '../chat/send';
import type { Connection } from './connection';
import type { E2EEHooks } from './e2ee';
import type { Live } from './live';
import type { SenderOps } from './senderOps';
import type { ChatStore } from './stores';

export interface SenderDeps {
  conn: Pick<Connection, 'request' | 'connected'>;
  qc: QueryClient;
  chat: ChatStore;
  e2ee: E2EEHooks;
  api: Pick<Api, 'pin' | 'unpin'>;
  /** The replies' originals (a deleted message is marked there too). */
  originals: OriginalsCache;
  meId: Id;
}

export class Sender {
  /** Own messages waiting to be stored, sent in order when connected (see chat/outbox.ts); made by senderOps.ts. */
  outbox: Outbox | null = null;
  /** Sends made before the outbox (in order). */
  private early: [Id, string][] = [];
  private ops: SenderOps | null = null;

  constructor(
    private readonly d: SenderDeps,
    /** live.ts: now if here, else once downloaded (the coordinator's loader). */
    private readonly load: () => Promise<Live>,
  ) {}

  /** live.ts is here (before the socket connects): the outbox comes with it, and sends queued before join it in order. */
  arrived(live: Live) {
    const ops = (this.ops = new live.SenderOps(this.d, (channelId, nonce) => this.enqueue(channelId, nonce)));
    this.outbox = ops.outbox;
    for (const [channelId, nonce] of this.early.splice(0)) this.outbox.enqueue(channelId, nonce);
  }

  private enqueue(channelId: Id, nonce: string) {
    if (this.outbox) this.outbox.enqueue(channelId, nonce);
    else this.early.push([channelId, nonce]);
  }

  /** Runs `f` with the operations now if live.ts is here (so what they show at once is shown at once), else once it is. */
  private withOps<T>(f: (o: SenderOps) => Promise<T>): Promise<T> {
    if (this.ops) return f(this.ops);
    // Not here yet: as a request made before the socket client arrived (connection.ts), it fails if it cannot come.
    return this.load().then(
      () => f(this.ops!),
      () => Promise.reject(new Error('not connected')),
    );
  }

  send(channelId: Id, content: string, replyTo?: Id | null, attachments?: Attachment[]): string | null {
    let text = content.replace(/\s+$/, '');
    const files = attachments?.length ? attachments : undefined;
    if (!text.trim() && !files) return null;
    if (!text.trim()) text = '';
    const nonce = newNonce();
    this.d.chat.update(channelId, (st) =>
      addPending(st, {
        nonce,
        channelId,
        senderId: this.d.meId,
        content: text,
        createdAt: new Date().toISOString(),
        replyTo: replyTo || null,
        attachments: files,
      }),
    );
    this.enqueue(channelId, nonce);
    return nonce;
  }

  /** Retry a failed send with the SAME nonce: it joins the end of the queue. (Only the outbox fails a send, so
   *  live.ts is here whenever there is one to retry or discard.) */
  retry(channelId: Id, nonce: string) {
    this.ops?.retry(channelId, nonce);
  }

  discard(channelId: Id, nonce: string) {
    this.ops?.discard(channelId, nonce);
  }

  edit(channelId: Id, messageId: Id, content: string): Promise<void> {
    return this.withOps((o) => o.edit(channelId, messageId, content));
  }

  remove(channelId: Id, messageId: Id): Promise<void> {
    return this.withOps((o) => o.remove(channelId, messageId));
  }

  /**
   * Adds or removes my reaction: shown at once, then set to what the server answers (its count is the truth),
   * or undone if it refused (the error is thrown).
   */
  react(channelId: Id, messageId: Id, emoji: string, add: boolean): Promise<void> {
    return this.withOps((o) => o.react(channelId, messageId, emoji, add));
  }

  pin(channelId: Id, messageId: Id, pinned: boolean): Promise<void> {
    return this.withOps((o) => o.pin(channelId, messageId, pinned));
  }
}
