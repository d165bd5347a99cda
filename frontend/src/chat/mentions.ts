// Mentions: whether a message mentions me, and the plain-text form of a message (for notifications). Pure
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

const MENTION_TOKEN = /<([@#])(\d{1,20})>/g;

/**
 * Message text for places that show plain text (a desktop notification): `<@id>` → `@name`, `<#id>` → `#name`,
 * whitespace collapsed, cut to `max` characters.
 */
export function plainText(
  content: string,
  names: { user: (id: Id) => string | undefined; channel: (id: Id) => string | undefined },
  max = 180,
): string {
  const text = content
    .replace(MENTION_TOKEN, (_, kind: string, id: string) =>
      kind === '@' ? `@${names.user(id) ?? 'unknown-user'}` : `#${names.channel(id) ?? 'unknown-channel'}`,
    )
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---------------------------------------------------------------------------------------------------------------
// The tab title

export const APP_TITLE = 'Parley';

/** "(3) Parley" with unread mentions, else "Parley". */
export function titleWithMentions(count: number, base = APP_TITLE): string {
  if (!(count > 0)) return base;
  return `(${count > 99 ? '99+' : count}) ${base}`;
}
