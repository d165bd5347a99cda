// Replies: resolving the compact quote shown above a reply. The original is taken from the loaded messages when it
// is there, else fetched once with GET /api/channels/:id/messages/:messageId and cached here; a 404 (or a
// `message:deleted` event) makes it "deleted" for good.
import { isApiError } from '../api/http';
import type { Id, Message } from '../api/types';
import { findLoaded, type ChannelMessages } from './messageStore';

export type CachedOriginal = { status: 'loading' } | { status: 'loaded'; message: Message } | { status: 'deleted' } | { status: 'error' };

export type Quote =
  | { status: 'loaded'; message: Message }
  | { status: 'deleted' }
  | { status: 'loading' }
  | { status: 'error' }
  /** Not loaded and not asked for yet: the caller should fetch it. */
  | { status: 'unknown' };

/** What to show for the original `id`, from the channel's loaded messages and the fetch cache. */
export function resolveQuote(id: Id, state: ChannelMessages | undefined, cached: CachedOriginal | undefined): Quote {
  if (state?.deleted.has(id) || cached?.status === 'deleted') return { status: 'deleted' };
  const loaded = findLoaded(state, id);
  if (loaded) return { status: 'loaded', message: loaded };
  return cached ?? { status: 'unknown' };
}


/** The first non-empty line of a message, for the quote (trimmed to `max` characters). */
export function firstLine(content: string, max = 120): string {
  const line = content.split('\n').find((l) => l.trim()) ?? '';
  const t = line.trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

type Listener = () => void;

export class OriginalsCache {
  private map = new Map<string, CachedOriginal>();
  private listeners = new Set<Listener>();

  constructor(private readonly fetchOne: (channelId: Id, messageId: Id) => Promise<{ message: Message }>) {}

  subscribe = (l: Listener) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };

  get = (channelId: Id, messageId: Id): CachedOriginal | undefined => this.map.get(`${channelId}:${messageId}`);

  private set(channelId: Id, messageId: Id, v: CachedOriginal) {
    this.map.set(`${channelId}:${messageId}`, v);
    for (const l of this.listeners) l();
  }

  /** Fetches the original once (again after an error). */
  load(channelId: Id, messageId: Id): Promise<void> {
    const cur = this.get(channelId, messageId);
    if (cur && cur.status !== 'error') return Promise.resolve();
    this.set(channelId, messageId, { status: 'loading' });
    return this.fetchOne(channelId, messageId).then(
      (res) => {
        if (this.get(channelId, messageId)?.status === 'deleted') return;
        this.set(channelId, messageId, res?.message ? { status: 'loaded', message: res.message } : { status: 'deleted' });
      },
      (e: unknown) => {
        if (this.get(channelId, messageId)?.status === 'deleted') return;
        this.set(channelId, messageId, isApiError(e, 'not_found') ? { status: 'deleted' } : { status: 'error' });
      },
    );
  }

  /** `message:deleted`: a quote of it shows "Original message was deleted" from now on. */
  markDeleted(channelId: Id, messageId: Id) {
    if (this.get(channelId, messageId)?.status === 'deleted') return;
    this.set(channelId, messageId, { status: 'deleted' });
  }

  /** `message:updated`: keep a cached original current. */
  update(m: Message) {
    const cur = this.get(m.channelId, m.id);
    if (cur?.status === 'loaded') this.set(m.channelId, m.id, { status: 'loaded', message: { ...cur.message, ...m } });
  }
}
