// Paging beyond the newest page: older pages, a window around a message (jumps) and newer pages of that window.
// Comes with the event handlers' chunk (live.ts); history.ts makes it on first use.
import type { Api } from '../api/endpoints';
import type { Id } from '../api/types';
import { newestId, oldestId } from '../chat/messageStore';
import { applyAroundPage, applyNewerPage, applyOlderPage } from '../chat/paging';
import type { findLoaded } from '../chat/messageStore';
import type { Connection } from './connection';
import type { ChatStore } from './stores';

export interface PagingDeps {
  conn: Pick<Connection, 'connected'>;
  api: Pick<Api, 'messages'>;
  chat: ChatStore;
  catchUp: (only: Id[]) => Promise<void>;
  // Passed in rather than imported: importing api/endpoints or chat/replies (both import api/http) from this lazy
  // chunk makes the bundler cut api/http out of the entry chunk into one of its own (+0.5 KB gzip on every screen).
  /** api/endpoints' PAGE_SIZE. */
  pageSize: number;
  /** chat/replies' findLoaded. */
  findLoaded: typeof findLoaded;
}

export function paging({ conn, api, chat, catchUp, pageSize, findLoaded }: PagingDeps) {
  const loadingOlder = new Map<Id, Promise<void>>();
  const loadingNewer = new Map<Id, Promise<void>>();

  function loadOlder(channelId: Id): Promise<void> {
    const st = chat.getChannel(channelId);
    const before = oldestId(st);
    if (!st?.loaded || !st.hasMoreOlder || !before) return Promise.resolve();
    const running = loadingOlder.get(channelId);
    if (running) return running;
    const p = (async () => {
      try {
        const page = await api.messages(channelId, { before });
        chat.update(channelId, (s) => applyOlderPage(s, page.messages ?? [], !!page.hasMore));
      } finally {
        loadingOlder.delete(channelId);
      }
    })();
    loadingOlder.set(channelId, p);
    return p;
  }

  /**
   * Makes `messageId` part of the loaded list: nothing to do when it is loaded; else the page around it is loaded
   * (merged when it connects to what we hold, else as a window into the past). Resolves whether it is there.
   */
  async function jumpTo(channelId: Id, messageId: Id): Promise<boolean> {
    if (findLoaded(chat.getChannel(channelId), messageId)) return true;
    const page = await api.messages(channelId, { around: messageId, limit: pageSize });
    const wasWindow = !!chat.getChannel(channelId)?.hasMoreNewer;
    chat.update(channelId, (st) => applyAroundPage(st, messageId, page.messages ?? [], !!page.hasMore, pageSize));
    // From a window back to the present: live messages were set aside meanwhile, so catch up.
    if (wasWindow && !chat.getChannel(channelId)?.hasMoreNewer && conn.connected) void catchUp([channelId]);
    return !!findLoaded(chat.getChannel(channelId), messageId);
  }

  /** A window into the past pages forward (`?after=`); once it reaches the present, catch up from its newest id. */
  function loadNewer(channelId: Id): Promise<void> {
    const st = chat.getChannel(channelId);
    const after = newestId(st);
    if (!st?.hasMoreNewer || !after) return Promise.resolve();
    const running = loadingNewer.get(channelId);
    if (running) return running;
    const p = (async () => {
      try {
        const page = await api.messages(channelId, { after });
        chat.update(channelId, (s) => (s.hasMoreNewer ? applyNewerPage(s, page.messages ?? [], !!page.hasMore) : s));
        if (!page.hasMore && conn.connected) await catchUp([channelId]);
      } finally {
        loadingNewer.delete(channelId);
      }
    })();
    loadingNewer.set(channelId, p);
    return p;
  }

  return { loadingOlder, loadingNewer, loadOlder, jumpTo, loadNewer };
}

export type Paging = ReturnType<typeof paging>;
