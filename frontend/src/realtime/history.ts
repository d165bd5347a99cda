// Message history per channel: the newest page, older and newer pages, a window around a message (jumps). The
// catch-up after a (re)connect (`messages:sync` from the newest id we hold) is in live.ts.
import type { Api } from '../api/endpoints';
import { PAGE_SIZE } from '../api/endpoints';
import { errorMessage } from '../api/http';
import type { Id } from '../api/types';
import { applyAroundPage, applyNewerPage, applyNewestPage, applyOlderPage, newestId, oldestId } from '../chat/messageStore';
import { findLoaded } from '../chat/replies';
import type { Connection } from './connection';
import type { ChatStore } from './stores';

export interface HistoryDeps {
  conn: Pick<Connection, 'epoch' | 'connected'>;
  api: Pick<Api, 'messages'>;
  chat: ChatStore;
  /** The catch-up of some channels (live.ts, through the coordinator); called only while connected. */
  catchUp: (only: Id[]) => Promise<void>;
}

/** A session's message history (see the file's comment); the coordinator makes one. */
export function history({ conn, api, chat, catchUp }: HistoryDeps) {
  const loadingNewest = new Map<Id, Promise<void>>();
  const loadingOlder = new Map<Id, Promise<void>>();
  const loadingNewer = new Map<Id, Promise<void>>();
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

  function isLoadingOlder(channelId: Id): boolean {
    return loadingOlder.has(channelId);
  }

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

  function isLoadingNewer(channelId: Id): boolean {
    return loadingNewer.has(channelId);
  }

  /**
   * Makes `messageId` part of the loaded list: nothing to do when it is loaded; else the page around it is loaded
   * (merged when it connects to what we hold, else as a window into the past). Resolves whether it is there.
   */
  async function jumpTo(channelId: Id, messageId: Id): Promise<boolean> {
    if (findLoaded(chat.getChannel(channelId), messageId)) return true;
    const page = await api.messages(channelId, { around: messageId, limit: PAGE_SIZE });
    const wasWindow = !!chat.getChannel(channelId)?.hasMoreNewer;
    chat.update(channelId, (st) => applyAroundPage(st, messageId, page.messages ?? [], !!page.hasMore, PAGE_SIZE));
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

  return { loadError, ensureLoaded, loadNewest, isLoadingOlder, loadOlder, isLoadingNewer, jumpTo, loadNewer };
}

export type History = ReturnType<typeof history>;
