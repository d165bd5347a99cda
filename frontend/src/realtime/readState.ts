// Read state: which channel is being viewed and my read position (debounced receipt:read). The receipt and
// unread events (others' receipts, my position moved elsewhere) are handled in live.ts.
import type { QueryClient } from '@tanstack/react-query';
import type { Id } from '../api/types';
import { clearUnread } from '../app/cache';
import { compareIds } from '../chat/ids';
import { newestId } from '../chat/messageStore';
import { SEND_TIMEOUT_MS } from '../chat/send';
import type { Connection } from './connection';
import type { ChatStore } from './stores';

const READ_DEBOUNCE_MS = 400;

export class ReadState {
  activeChannelId: Id | null = null;
  private lastReadSent = new Map<Id, Id>();
  private timers = new Map<Id, ReturnType<typeof setTimeout>>();
  /** The newest message of a channel at the last markRead, i.e. the newest the user has seen there. */
  private seen = new Map<Id, Id>();

  constructor(
    private readonly conn: Pick<Connection, 'socket' | 'request'>,
    private readonly qc: QueryClient,
    private readonly chat: ChatStore,
  ) {}

  setActiveChannel(channelId: Id | null) {
    this.activeChannelId = channelId;
    if (channelId) clearUnread(this.qc, channelId);
  }

  /** Marks a channel read up to a message at once (closing a DM with unread messages, which would reopen it). */
  async markReadUpTo(channelId: Id, messageId: Id): Promise<void> {
    clearUnread(this.qc, channelId);
    this.lastReadSent.set(channelId, messageId);
    await this.conn.request((s) => s.timeout(SEND_TIMEOUT_MS).emitWithAck('receipt:read', { channelId, messageId }));
  }

  /** Marks the newest loaded message read (debounced). Call only while the channel is visible and focused. */
  markRead(channelId: Id) {
    if (channelId !== this.activeChannelId) return;
    // A window into the past is not what is new: nothing to mark read until it reaches the present.
    if (this.chat.getChannel(channelId)?.hasMoreNewer) return;
    if (typeof document !== 'undefined' && (document.visibilityState === 'hidden' || !document.hasFocus())) return;
    clearUnread(this.qc, channelId);
    // Remember what is seen now: the debounced receipt must not cover messages that arrive after the user left
    // the channel (they would be marked read, and their badge cleared, unseen).
    const seen = newestId(this.chat.getChannel(channelId));
    if (seen) this.seen.set(channelId, seen);
    if (this.timers.has(channelId)) return;
    this.timers.set(
      channelId,
      setTimeout(() => {
        this.timers.delete(channelId);
        const newest = this.seen.get(channelId);
        if (!newest) return;
        const sent = this.lastReadSent.get(channelId);
        if (sent && compareIds(sent, newest) >= 0) return;
        const s = this.conn.socket;
        if (!s?.connected) return;
        this.lastReadSent.set(channelId, newest);
        s.timeout(SEND_TIMEOUT_MS)
          .emitWithAck('receipt:read', { channelId, messageId: newest })
          .then((ack) => {
            if (!ack?.ok && this.lastReadSent.get(channelId) === newest) this.lastReadSent.delete(channelId);
          })
          .catch(() => {
            if (this.lastReadSent.get(channelId) === newest) this.lastReadSent.delete(channelId);
          });
      }, READ_DEBOUNCE_MS),
    );
  }

  stop() {
    for (const t of this.timers.values()) clearTimeout(t);
  }
}
