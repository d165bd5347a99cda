// Mentions: whether a message mentions me (its plain-text form for notifications is chat/mentionText.ts). Pure
// functions; the server resolves `@username` to `<@id>` and `#name` to `<#id>` when the message is sent, and lists
// who is mentioned in `mentions` / `mentionEveryone`. What the composer's autocomplete offers and inserts is
// chat/autocomplete.ts (loaded with the autocomplete, not with the chat screen).
import type { Id, Message } from '../api/types';

// ---------------------------------------------------------------------------------------------------------------
// Received messages

type Mentioning = Pick<Message, 'senderId' | 'content' | 'mentions' | 'mentionEveryone'>;

/** The message names me: `<@me>` (or I am in `mentions` for another reason than @here/@everyone). */
export function mentionsMeDirectly(m: Mentioning, meId: Id): boolean {
  return m.senderId !== meId && (m.content ?? '').includes(`<@${meId}>`);
}

/**
 * Whether a message mentions me, for highlighting and counting: my id in `mentions` (a direct mention, or @here
 * while I was online) or an allowed @everyone. With `suppressEveryone` (set per server), @everyone and @here do not
 * count, only direct mentions. Never my own messages.
 */
export function mentionsMe(m: Mentioning, meId: Id, suppressEveryone = false): boolean {
  if (!m || m.senderId === meId) return false;
  if (mentionsMeDirectly(m, meId)) return true;
  if (suppressEveryone) return false;
  return !!m.mentionEveryone || (m.mentions ?? []).includes(meId);
}
