// Catch-up after a (re)connect: ask `messages:sync` for everything newer than the newest message we hold in each
// loaded channel, merge the answers, and refetch the newest page where the server says there is more than it sent.
import type { Id, Message, SyncPayload, SyncResult } from '../api/types';
import { newestId, receiveMessages, type ChannelMessages } from './messageStore';

export interface SyncPlan {
  /** The `messages:sync` payload; null when no loaded channel has a message to sync from. */
  payload: SyncPayload | null;
  /** Loaded channels with no message yet: there is no id to sync from, so refetch their newest page instead. */
  refetch: Id[];
}

export function planSync(channels: ReadonlyMap<Id, ChannelMessages>, only?: Iterable<Id>): SyncPlan {
  const wanted = only ? new Set(only) : null;
  const out: Record<Id, Id> = {};
  const refetch: Id[] = [];
  for (const [id, state] of channels) {
    if (wanted && !wanted.has(id)) continue;
    if (!state.loaded) continue;
    // A window into the past (opened to jump to an old message) is not live: it pages forward on its own.
    if (state.hasMoreNewer) continue;
    const newest = newestId(state);
    if (newest) out[id] = newest;
    else refetch.push(id);
  }
  return { payload: Object.keys(out).length ? { channels: out } : null, refetch };
}

export interface SyncApplied {
  /** Channels whose state changed, with their new state. */
  updated: Map<Id, ChannelMessages>;
  /** Channels with more missed messages than the answer held: refetch their newest page. */
  refetch: Id[];
  /** Messages newly merged, per channel, ascending (for delivery receipts and notifications). */
  added: Map<Id, Message[]>;
}

export function applySync(channels: ReadonlyMap<Id, ChannelMessages>, result: Pick<SyncResult, 'messages' | 'hasMore'>): SyncApplied {
  const updated = new Map<Id, ChannelMessages>();
  const added = new Map<Id, Message[]>();
  const refetch: Id[] = [];
  const ids = new Set<Id>([...Object.keys(result.messages ?? {}), ...Object.keys(result.hasMore ?? {})]);
  for (const id of ids) {
    const state = channels.get(id);
    if (!state) continue;
    if (result.hasMore?.[id]) {
      refetch.push(id);
      continue;
    }
    const msgs = (result.messages?.[id] ?? []).filter((m) => m.channelId === undefined || m.channelId === id);
    if (msgs.length === 0) continue;
    const before = new Set(state.messages.map((m) => m.id));
    const next = receiveMessages(state, msgs);
    if (next !== state) {
      updated.set(id, next);
      const fresh = next.messages.filter((m) => !before.has(m.id));
      if (fresh.length) added.set(id, fresh);
    }
  }
  return { updated, refetch, added };
}
