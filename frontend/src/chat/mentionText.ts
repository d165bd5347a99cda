// Text for the places outside the message list: a desktop notification's plain text and the tab title. Only the
// lazy notification controller (Notifications.tsx) uses them.
import type { Id } from '../api/types';

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
