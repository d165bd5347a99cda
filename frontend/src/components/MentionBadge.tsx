/** Unread mentions of a channel or DM: a red pill with the count. */
export function MentionBadge({ count }: { count: number }) {
  if (!(count > 0)) return null;
  return (
    <span
      className="unread-badge mention-badge"
      data-testid="mention-badge"
      data-count={count}
      aria-label={`${count} mention${count === 1 ? '' : 's'}`}
    >
      {count > 99 ? '99+' : count}
    </span>
  );
}
