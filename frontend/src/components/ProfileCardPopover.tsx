// The profile card itself (components/ProfileCard.tsx has the triggers): loaded when first opened (lazy.tsx).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { useLocation } from 'wouter';
import { errorMessage } from '../api/http';
import { qk } from '../api/queryKeys';
import type { PresenceStatus, User } from '../api/types';
import { displayName } from '../app/queries';
import { useIsBlocked } from '../app/safety';
import { useApi, useMe } from '../app/services';
import { seedUsers, upsertChannel } from '../app/cache';
import { usePresence } from '../realtime/RealtimeProvider';
import { useNotify } from './notices';
import { Avatar } from './ui';
import { STATUS_LABEL } from './ProfileCard';

type Pick = Parameters<typeof Avatar>[0]['user'];

export function ProfileCard({ user, anchor, onClose }: { user: User; anchor: HTMLElement; onClose: () => void }) {
  const me = useMe();
  const api = useApi();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const notify = useNotify();
  const presence = usePresence(user.id);
  const blocked = useIsBlocked(user.id);
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  const status: PresenceStatus = user.id === me.id ? (presence?.status ?? 'online') : (presence?.status ?? 'offline');
  const message = useMutation({
    mutationFn: () => api.openDM([user.id]),
    onSuccess: (channel) => {
      upsertChannel(qc, channel);
      seedUsers(qc, channel.participants ?? []);
      if (!qc.getQueryData(qk.dms)) void qc.invalidateQueries({ queryKey: qk.dms });
      onClose();
      navigate(`/channels/@me/${channel.id}`);
    },
    onError: (e) => notify(`Couldn't open the conversation: ${errorMessage(e)}`, 'error'),
  });

  // Beside the trigger, kept inside the window (a member list on the right opens it to the left).
  useLayoutEffect(() => {
    const r = anchor.getBoundingClientRect();
    const card = ref.current?.getBoundingClientRect();
    const w = card?.width ?? 300;
    const h = card?.height ?? 220;
    let left = r.right + 8;
    if (left + w > window.innerWidth - 8) left = Math.max(8, r.left - w - 8);
    const top = Math.min(Math.max(8, r.top), Math.max(8, window.innerHeight - h - 8));
    setPos({ left, top });
  }, [anchor]);

  useEffect(() => {
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.stopPropagation();
      onClose();
      anchor.focus();
    };
    const onDown = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node) && !anchor.contains(e.target as Node)) onClose();
    };
    document.addEventListener('keydown', onKey, true);
    document.addEventListener('mousedown', onDown);
    return () => {
      document.removeEventListener('keydown', onKey, true);
      document.removeEventListener('mousedown', onDown);
    };
  }, [anchor, onClose]);

  return createPortal(
    <div
      className="popover profile-card"
      role="dialog"
      aria-labelledby={titleId}
      tabIndex={-1}
      ref={ref}
      style={{ left: pos?.left ?? -9999, top: pos?.top ?? 0 }}
      data-testid="profile-card"
      data-user-id={user.id}
    >
      <div className="profile-card-banner" aria-hidden="true" />
      <div className="profile-card-avatar">
        <Avatar user={user as Pick} size={72} status={status} />
      </div>
      <h2 className="profile-card-name" id={titleId} data-testid="profile-card-name">
        {displayName(user)}
      </h2>
      <div className="profile-card-username" data-testid="profile-card-username">
        @{user.username}
      </div>
      <div className="profile-card-status" data-testid="profile-card-status" data-status={status}>
        <span className={`presence-dot inline presence-${status}`} aria-hidden="true" /> {STATUS_LABEL[status]}
      </div>
      {user.id !== me.id && !blocked && (
        <button
          type="button"
          className="button primary wide"
          onClick={() => message.mutate()}
          disabled={message.isPending}
          data-testid="profile-card-message"
        >
          Message
        </button>
      )}
      {blocked && <p className="muted small">You blocked this user.</p>}
    </div>,
    document.body,
  );
}
