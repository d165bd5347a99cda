// A profile card (issue #16), as in Discord: clicking a name or an avatar in the message list or the member list
// shows the display name, @username, presence and a "Message" button that opens (or creates) the DM. The name is
// a button (Tab reaches it, Enter opens the card); the avatar is the same target for the mouse. Esc or a click
// outside closes it and gives the focus back.
import { useState, type ReactNode } from 'react';
import type { PresenceStatus, User } from '../api/types';
import { ProfileCard } from './lazy';
import './shell.css';

export const STATUS_LABEL: Record<PresenceStatus, string> = {
  online: 'Online',
  idle: 'Idle',
  dnd: 'Do Not Disturb',
  invisible: 'Invisible',
  offline: 'Offline',
};

/** The name (a button) that opens the card; `avatar` renders the same card trigger around an avatar. */
export function ProfileTrigger({
  user,
  children,
  className,
  avatar = false,
  testId,
  title,
  keyboard = true,
}: {
  user: User | undefined;
  children: ReactNode;
  className?: string;
  avatar?: boolean;
  testId?: string;
  title?: string;
  /** false: a mouse target only (the keyboard reaches the card another way, e.g. the message's menu). */
  keyboard?: boolean;
}) {
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  if (!user)
    return (
      <span className={className} data-testid={testId}>
        {children}
      </span>
    );
  return (
    <>
      <button
        type="button"
        className={`profile-trigger${avatar ? ' avatar-trigger' : ''}${className ? ` ${className}` : ''}`}
        // The avatar repeats the name next to it: one tab stop per person is enough.
        tabIndex={avatar || !keyboard ? -1 : undefined}
        aria-hidden={avatar ? true : undefined}
        title={title}
        aria-haspopup="dialog"
        aria-expanded={anchor ? true : false}
        onClick={(e) => setAnchor(anchor ? null : e.currentTarget)}
        data-testid={testId ?? (avatar ? 'profile-avatar' : 'profile-name')}
      >
        {children}
      </button>
      {anchor && <ProfileCard user={user} anchor={anchor} onClose={() => setAnchor(null)} />}
    </>
  );
}

