// Unsent composer text, per user and channel, kept in localStorage so it survives channel switches and reloads
// (issue #16, item 9). Written as the user types, removed when the text is sent or emptied, and all of a user's
// drafts are dropped when they log out from the menu. Without usable storage (private mode, quota) drafts still
// last for the page's life, in memory.

const PREFIX = 'parley.draft.';
const memory = new Map<string, string>();

export const draftKey = (userId: string, channelId: string) => `${PREFIX}${userId}.${channelId}`;

function storage(): Storage | undefined {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : undefined;
  } catch {
    return undefined;
  }
}

export function loadDraft(userId: string, channelId: string): string {
  const key = draftKey(userId, channelId);
  try {
    const v = storage()?.getItem(key);
    if (v !== null && v !== undefined) return v;
  } catch {
    // fall through to memory
  }
  return memory.get(key) ?? '';
}

export function saveDraft(userId: string, channelId: string, text: string) {
  const key = draftKey(userId, channelId);
  if (!text) {
    memory.delete(key);
    try {
      storage()?.removeItem(key);
    } catch {
      // nothing stored
    }
    return;
  }
  memory.set(key, text);
  try {
    storage()?.setItem(key, text);
  } catch {
    // quota or disabled storage: the in-memory copy still serves this page
  }
}

export function clearDrafts(userId: string) {
  const prefix = `${PREFIX}${userId}.`;
  for (const k of [...memory.keys()]) if (k.startsWith(prefix)) memory.delete(k);
  const s = storage();
  if (!s) return;
  try {
    const keys: string[] = [];
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k?.startsWith(prefix)) keys.push(k);
    }
    for (const k of keys) s.removeItem(k);
  } catch {
    // nothing to clear
  }
}
