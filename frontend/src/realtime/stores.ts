// Small external stores (read with useSyncExternalStore): per-channel message lists and receipts, presence.
// Typing has its own (typing.ts).
import type { Id, Presence } from '../api/types';
import { emptyChannel, type ChannelMessages } from '../chat/messageStore';
import { emptyReceipts, type ChannelReceipts } from '../chat/receipts';

type Listener = () => void;

export class Emitter {
  private listeners = new Set<Listener>();
  subscribe = (l: Listener) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };
  protected emit() {
    for (const l of this.listeners) l();
  }
}

export class ChatStore extends Emitter {
  private channels = new Map<Id, ChannelMessages>();
  private receipts = new Map<Id, ChannelReceipts>();

  getChannel = (id: Id): ChannelMessages | undefined => this.channels.get(id);
  getAll = (): ReadonlyMap<Id, ChannelMessages> => this.channels;
  getReceipts = (id: Id): ChannelReceipts => this.receipts.get(id) ?? emptyReceipts;

  update(id: Id, fn: (s: ChannelMessages) => ChannelMessages) {
    const cur = this.channels.get(id) ?? emptyChannel();
    const next = fn(cur);
    if (next === cur && this.channels.has(id)) return;
    this.channels.set(id, next);
    this.emit();
  }

  setMany(updated: ReadonlyMap<Id, ChannelMessages>) {
    if (updated.size === 0) return;
    for (const [id, s] of updated) this.channels.set(id, s);
    this.emit();
  }

  drop(id: Id) {
    if (this.channels.delete(id) || this.receipts.delete(id)) this.emit();
  }

  updateReceipts(id: Id, fn: (r: ChannelReceipts) => ChannelReceipts) {
    const cur = this.getReceipts(id);
    const next = fn(cur);
    if (next === cur) return;
    this.receipts.set(id, next);
    this.emit();
  }
}

export class PresenceStore extends Emitter {
  private map = new Map<Id, Presence>();
  private version = 0;
  getVersion = () => this.version;
  get = (userId: Id): Presence | undefined => this.map.get(userId);
  has = (userId: Id) => this.map.has(userId);

  /** Something presence-related outside the map changed (own idle state). */
  touch() {
    this.version++;
    this.emit();
  }

  set(list: Presence[]) {
    let changed = false;
    for (const p of list) {
      if (!p?.userId) continue;
      const cur = this.map.get(p.userId);
      if (cur && cur.status === p.status && cur.lastSeen === p.lastSeen) continue;
      this.map.set(p.userId, p);
      changed = true;
    }
    if (changed) {
      this.version++;
      this.emit();
    }
  }
}
