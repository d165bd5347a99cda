// Sending: my messages (queued in the outbox, sealed in an encrypted DM), edits, deletes and reactions, each
// shown at once and set to what the server answers.
import type { QueryClient } from '@tanstack/react-query';
import type { Api } from '../api/endpoints';
import type { Ack, Attachment, Id, Reaction } from '../api/types';
import { noteLastMessage } from '../app/cache';
import { addPending, applyUpdate, discardPending, findPending, markFailed, markSending, receiveMessage, updateReactions } from '../chat/messageStore';
import type { Outbox } from '../chat/outbox';
import { setReaction, toggleMine } from '../chat/reactions';
import { newNonce, SEND_TIMEOUT_MS } from '../chat/send';
import type { Connection } from './connection';
import type { E2EEHooks } from './e2ee';
import type { MessageEvents } from './messages';
import type { ChatStore } from './stores';

export interface SenderDeps {
  conn: Pick<Connection, 'request' | 'connected'>;
  qc: QueryClient;
  chat: ChatStore;
  e2ee: E2EEHooks;
  api: Pick<Api, 'pin' | 'unpin'>;
  messages: Pick<MessageEvents, 'deleted' | 'onPinUpdate'>;
  meId: Id;
}

export class Sender {
  /** Own messages waiting to be stored, sent in order when connected (see chat/outbox.ts); see makeOutbox. */
  outbox: Outbox | null = null;
  /** Sends made before the outbox (in order). */
  private early: [Id, string][] = [];
  private readonly conn: SenderDeps['conn'];
  private readonly chat: ChatStore;
  private readonly e2ee: E2EEHooks;
  private readonly meId: Id;

  constructor(private readonly d: SenderDeps) {
    this.conn = d.conn;
    this.chat = d.chat;
    this.e2ee = d.e2ee;
    this.meId = d.meId;
  }

  /**
   * Makes the outbox: its class comes with the event handlers (live.ts), which the coordinator has before the
   * socket connects; sends queued before then join it in order.
   */
  makeOutbox(Box: typeof Outbox) {
    const { conn, chat, e2ee, qc } = this.d;
    this.outbox = new Box({
      emit: (p) => conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:send', p)),
      // An encrypted DM's message (the server's flag) is sealed (e2ee.ts).
      encrypted: (channelId) => e2ee.isEncrypted(channelId),
      seal: (p, refused) => e2ee.seal(p, refused),
      onEncryptionRequired: (channelId) => e2ee.markEncrypted(channelId),
      connected: () => conn.connected,
      content: (channelId, nonce) => {
        const p = findPending(chat.getChannel(channelId), nonce);
        return p && p.state === 'pending' ? p.content : undefined;
      },
      replyTo: (channelId, nonce) => findPending(chat.getChannel(channelId), nonce)?.replyTo,
      attachments: (channelId, nonce) => findPending(chat.getChannel(channelId), nonce)?.attachments?.map((a) => a.id),
      onAttempt: (channelId, nonce) => chat.update(channelId, (st) => markSending(st, nonce)),
      onSent: (channelId, message) => {
        chat.update(channelId, (st) => receiveMessage(st, message));
        noteLastMessage(qc, message);
      },
      onFailed: (channelId, nonce, error) => chat.update(channelId, (st) => markFailed(st, nonce, error)),
    });
    for (const [channelId, nonce] of this.early.splice(0)) this.outbox.enqueue(channelId, nonce);
  }

  private enqueue(channelId: Id, nonce: string) {
    if (this.outbox) this.outbox.enqueue(channelId, nonce);
    else this.early.push([channelId, nonce]);
  }

  send(channelId: Id, content: string, replyTo?: Id | null, attachments?: Attachment[]): string | null {
    let text = content.replace(/\s+$/, '');
    const files = attachments?.length ? attachments : undefined;
    if (!text.trim() && !files) return null;
    if (!text.trim()) text = '';
    const nonce = newNonce();
    this.chat.update(channelId, (st) =>
      addPending(st, {
        nonce,
        channelId,
        senderId: this.meId,
        content: text,
        createdAt: new Date().toISOString(),
        replyTo: replyTo || null,
        attachments: files,
      }),
    );
    this.enqueue(channelId, nonce);
    return nonce;
  }

  /** Retry a failed send with the SAME nonce: it joins the end of the queue. */
  retry(channelId: Id, nonce: string) {
    const p = findPending(this.chat.getChannel(channelId), nonce);
    if (!p || p.state !== 'failed') return;
    this.chat.update(channelId, (st) => markSending(st, nonce));
    this.enqueue(channelId, nonce);
  }

  discard(channelId: Id, nonce: string) {
    this.chat.update(channelId, (st) => discardPending(st, nonce));
  }

  async edit(channelId: Id, messageId: Id, content: string): Promise<void> {
    // In an encrypted DM the new text is sealed (new ciphertext); a stale flag is corrected by the server's answer.
    const send = async (sealed: boolean) => {
      const payload = sealed ? { channelId, messageId, content: await this.e2ee.sealEdit(channelId, content, messageId), encrypted: true } : { channelId, messageId, content };
      return this.conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:edit', payload));
    };
    let res = await send(this.e2ee.isEncrypted(channelId));
    if (!res.ok && res.error?.code === 'encryption_required') {
      this.e2ee.markEncrypted(channelId);
      res = await send(true);
    }
    if (!res.ok) throw new Error(res.error?.message || 'Could not edit the message.');
    this.chat.update(channelId, (st) => applyUpdate(st, res.message));
  }

  async remove(channelId: Id, messageId: Id): Promise<void> {
    const res = await this.conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:delete', { channelId, messageId }));
    if (!res.ok) throw new Error(res.error?.message || 'Could not delete the message.');
    this.d.messages.deleted(channelId, messageId);
  }

  /**
   * Adds or removes my reaction: shown at once, then set to what the server answers (its count is the truth),
   * or undone if it refused (the error is thrown).
   */
  async react(channelId: Id, messageId: Id, emoji: string, add: boolean): Promise<void> {
    this.chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, this.meId, add)));
    let res: Ack<{ reaction: Reaction }> | undefined;
    try {
      res = await this.conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck(add ? 'reaction:add' : 'reaction:remove', { channelId, messageId, emoji }));
    } catch {
      res = undefined;
    }
    if (res?.ok) {
      const r = res.reaction;
      this.chat.update(channelId, (st) => updateReactions(st, messageId, (list) => setReaction(list, { ...r, emoji })));
      return;
    }
    this.chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, this.meId, !add)));
    throw new Error(res && !res.ok ? res.error?.message || 'Could not react.' : 'No answer from the server; try again.');
  }

  async pin(channelId: Id, messageId: Id, pinned: boolean): Promise<void> {
    if (pinned) await this.d.api.pin(channelId, messageId);
    else await this.d.api.unpin(channelId, messageId);
    // The event follows; apply at once for this tab.
    this.d.messages.onPinUpdate({ channelId, messageId, userId: this.meId, pinned });
  }
}
