// The sender's operations that need the server (realtime/sending.ts keeps what the first paint needs): the
// outbox's wiring, retries and discards of failed sends, edits, deletes, reactions and pins. Comes with live.ts,
// beside the socket client: none of it can reach the server before.
import type { Ack, Id, Reaction } from '../api/types';
import { noteLastMessage } from '../app/cache';
import { applyUpdate, discardPending, findPending, markFailed, markSending, updateReactions } from '../chat/messageEdits';
import { receiveMessage } from '../chat/messageStore';
import { Outbox } from '../chat/outbox';
import { setReaction, toggleMine } from '../chat/reactions';
import { SEND_TIMEOUT_MS } from '../chat/send';
import { messageDeleted, pinUpdated } from './messageEffects';
import type { SenderDeps } from './sending';

export class SenderOps {
  /** Own messages waiting to be stored, sent in order when connected (see chat/outbox.ts). */
  readonly outbox: Outbox;

  constructor(
    private readonly d: SenderDeps,
    /** The sender's queue: the outbox, in order after the sends made before it. */
    private readonly enqueue: (channelId: Id, nonce: string) => void,
  ) {
    const { conn, chat, e2ee, qc } = d;
    this.outbox = new Outbox({
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
  }

  /** Retry a failed send with the SAME nonce: it joins the end of the queue. */
  retry(channelId: Id, nonce: string) {
    const { chat } = this.d;
    const p = findPending(chat.getChannel(channelId), nonce);
    if (!p || p.state !== 'failed') return;
    chat.update(channelId, (st) => markSending(st, nonce));
    this.enqueue(channelId, nonce);
  }

  discard(channelId: Id, nonce: string) {
    this.d.chat.update(channelId, (st) => discardPending(st, nonce));
  }

  async edit(channelId: Id, messageId: Id, content: string): Promise<void> {
    const { conn, e2ee, chat } = this.d;
    // In an encrypted DM the new text is sealed (new ciphertext); a stale flag is corrected by the server's answer.
    const send = async (sealed: boolean) => {
      const payload = sealed ? { channelId, messageId, content: await e2ee.sealEdit(channelId, content, messageId), encrypted: true } : { channelId, messageId, content };
      return conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:edit', payload));
    };
    let res = await send(e2ee.isEncrypted(channelId));
    if (!res.ok && res.error?.code === 'encryption_required') {
      e2ee.markEncrypted(channelId);
      res = await send(true);
    }
    if (!res.ok) throw new Error(res.error?.message || 'Could not edit the message.');
    chat.update(channelId, (st) => applyUpdate(st, res.message));
  }

  async remove(channelId: Id, messageId: Id): Promise<void> {
    const res = await this.d.conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('message:delete', { channelId, messageId }));
    if (!res.ok) throw new Error(res.error?.message || 'Could not delete the message.');
    messageDeleted(this.d, channelId, messageId);
  }

  async react(channelId: Id, messageId: Id, emoji: string, add: boolean): Promise<void> {
    const { chat, conn, meId } = this.d;
    chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, meId, add)));
    let res: Ack<{ reaction: Reaction }> | undefined;
    try {
      res = await conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck(add ? 'reaction:add' : 'reaction:remove', { channelId, messageId, emoji }));
    } catch {
      res = undefined;
    }
    if (res?.ok) {
      const r = res.reaction;
      chat.update(channelId, (st) => updateReactions(st, messageId, (list) => setReaction(list, { ...r, emoji })));
      return;
    }
    chat.update(channelId, (st) => updateReactions(st, messageId, (r) => toggleMine(r, emoji, meId, !add)));
    throw new Error(res && !res.ok ? res.error?.message || 'Could not react.' : 'No answer from the server; try again.');
  }

  async pin(channelId: Id, messageId: Id, pinned: boolean): Promise<void> {
    const { api, meId } = this.d;
    if (pinned) await api.pin(channelId, messageId);
    else await api.unpin(channelId, messageId);
    // The event follows; apply at once for this tab.
    pinUpdated(this.d, { channelId, messageId, userId: meId, pinned });
  }
}
