// Message history per channel: the newest page here; older and newer pages and a window around a message (jumps)
// in paging.ts, loaded on first use. The catch-up after a (re)connect (`messages:sync` from the newest id we
// hold) is in live.ts.
import { PAGE_SIZE, type Api } from '../api/endpoints';
import { errorMessage } from '../api/http';
import type { Id } from '../api/types';
import { applyNewestPage, findLoaded } from '../chat/messageStore';
import type { Connection } from './connection';
import type { Live } from './live';
import type { Paging } from './paging';
import type { ChatStore } from './stores';

export interface HistoryDeps {
  conn: Pick<Connection, 'epoch' | 'connected'>;
  api: Pick<Api, 'messages'>;
  chat: ChatStore;
  /** The catch-up of some channels (live.ts, through the coordinator); called only while connected. */
  catchUp: (only: Id[]) => Promise<void>;
  /** The event handlers' chunk (live.ts), which carries the paging code. */
  load: () => Promise<Live>;
}

/** A session's message history (see the file's comment); the coordinator makes one. */
export function history({ conn, api, chat, catchUp, load }: HistoryDeps) {
  const loadingNewest = new Map<Id, Promise<void>>();
  const loadErrors = new Map<Id, string>();

  function loadError(channelId: Id): string | undefined {
    return loadErrors.get(channelId);
  }

  /** Loads the newest page unless the channel is already live. */
  function ensureLoaded(channelId: Id): Promise<void> {
    const st = chat.getChannel(channelId);
    // Coming back to a channel left in the past (after a jump): start from the present again.
    if (st?.loaded && !st.hasMoreNewer) return Promise.resolve();
    return loadNewest(channelId);
  }

  /** (Re)loads the newest page; replaces history when it does not connect to what we hold. */
  function loadNewest(channelId: Id): Promise<void> {
    const running = loadingNewest.get(channelId);
    if (running) return running;
    const epoch = conn.epoch;
    const p = (async () => {
      try {
        const page = await api.messages(channelId);
        loadErrors.delete(channelId);
        chat.update(channelId, (st) => applyNewestPage(st, page.messages ?? [], !!page.hasMore));
        // A connect happened while the page was in flight: its catch-up skipped this channel, so sync it now.
        if (epoch !== conn.epoch && conn.connected) void catchUp([channelId]);
      } catch (e) {
        loadErrors.set(channelId, errorMessage(e));
        chat.update(channelId, (st) => ({ ...st }));
        throw e;
      } finally {
        loadingNewest.delete(channelId);
      }
    })();
    loadingNewest.set(channelId, p);
    return p;
  }

  // Paging beyond the newest page (older pages, jumps, newer pages of a window: paging.ts) is a chunk of its own
  // that comes with the event handlers (live.ts); made on first use. Until then nothing is loading.
  let pager: Paging | undefined;
  let making: Promise<Paging> | undefined;
  const paged = () => (making ??= load().then((l) => (pager = l.paging({ conn, api, chat, catchUp, pageSize: PAGE_SIZE, findLoaded }))));

  const isLoadingOlder = (channelId: Id) => !!pager?.loadingOlder.has(channelId);
  const isLoadingNewer = (channelId: Id) => !!pager?.loadingNewer.has(channelId);
  const loadOlder = (channelId: Id) => paged().then((p) => p.loadOlder(channelId));
  const jumpTo = (channelId: Id, messageId: Id) => paged().then((p) => p.jumpTo(channelId, messageId));
  const loadNewer = (channelId: Id) => paged().then((p) => p.loadNewer(channelId));

  return { loadError, ensureLoaded, loadNewest, isLoadingOlder, loadOlder, isLoadingNewer, jumpTo, loadNewer };
}

export type History = ReturnType<typeof history>;
