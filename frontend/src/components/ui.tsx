import type { PresenceStatus, User } from '../api/types';
import { displayName } from '../app/queries';

// Avatar backgrounds behind white initials: each at least 4.5:1 against white (WCAG AA), darker shades of the brand set.
const COLORS = ['#5865f2', '#2f8349', '#a36704', '#d1363b', '#c72a7f', '#007ab7', '#9b59b6', '#12846e'];

function colorFor(key: string): string {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return COLORS[Math.abs(h) % COLORS.length];
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return [...parts[0]].slice(0, 2).join('').toUpperCase();
  return (([...parts[0]][0] ?? '') + ([...parts[1]][0] ?? '')).toUpperCase();
}

/** An avatar stored by Parley, on its own origin; null for anything else. The server refuses other URLs and drops
 *  ones stored earlier; this keeps the browser from fetching a foreign URL even if one slipped through (and the
 *  CSP's img-src would block it). */
export function ownAvatar(url: string | undefined): string | null {
  return url && /^\/avatars\/[A-Za-z0-9][A-Za-z0-9_-]{0,127}(\.(png|jpe?g|gif|webp))?$/.test(url) ? url : null;
}

export function Avatar({
  user,
  size = 40,
  status,
  name,
}: {
  user?: Pick<User, 'id' | 'avatarUrl' | 'displayName' | 'username'>;
  size?: number;
  status?: PresenceStatus;
  name?: string;
}) {
  const label = name ?? displayName(user);
  const url = ownAvatar(user?.avatarUrl);
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: Math.round(size * 0.38) }} aria-hidden="true">
      {url ? (
        <img src={url} alt="" width={size} height={size} referrerPolicy="no-referrer" />
      ) : (
        <span className="avatar-fallback" style={{ background: colorFor(user?.id ?? label) }}>
          {initials(label)}
        </span>
      )}
      {status && <PresenceDot status={status} />}
    </span>
  );
}

export function PresenceDot({ status }: { status: PresenceStatus }) {
  return <span className={`presence-dot presence-${status}`} data-testid="presence-dot" data-status={status} title={status} />;
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label} />;
}

export function UnreadBadge({ count, mentions = 0 }: { count: number; mentions?: number }) {
  if (count <= 0) return null;
  const text = count > 99 ? '99+' : String(count);
  return (
    <span
      className={`unread-badge${mentions > 0 ? ' mention' : ''}`}
      data-testid="unread-badge"
      data-count={count}
      aria-label={`${count} unread message${count === 1 ? '' : 's'}`}
    >
      {text}
    </span>
  );
}
