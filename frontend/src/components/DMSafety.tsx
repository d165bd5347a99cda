import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useLocation } from 'wouter';
import { errorMessage } from '../api/http';
import type { DMChannel, User } from '../api/types';
import { displayName, dmOthers, dmTitle } from '../app/queries';
import { useSetBlocked } from '../app/privacy';
import { useIsBlocked } from '../app/safety';
import { useApi, useMe } from '../app/services';
import { removeChannel } from '../app/cache';
import { useRealtime } from '../realtime/RealtimeProvider';
import { useNotify } from './notices';
import { Modal } from './Modal';
import './safety.css';

const isGroup = (c: DMChannel) => c.group ?? (c.participants?.length ?? 0) > 2;

/**
 * Closes a 1:1 DM (off my list until its next message; read up to its last message first, or an unread message
 * would bring it straight back) or leaves a group DM. Navigates home when it was the open conversation.
 */
function useCloseDM(channel: DMChannel, current: boolean) {
  const api = useApi();
  const rt = useRealtime();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const notify = useNotify();
  return useMutation({
    mutationFn: async () => {
      // Always, not only with a badge: the open DM shows none, yet its receipt may still be waiting (debounced).
      if (!isGroup(channel) && channel.lastMessageId) {
        await rt.read.markReadUpTo(channel.id, channel.lastMessageId).catch(() => undefined);
      }
      await api.closeDM(channel.id);
    },
    onSuccess: () => {
      removeChannel(qc, channel);
      if (current) navigate('/channels/@me', { replace: true });
    },
    onError: (e) => notify(errorMessage(e), 'error'),
  });
}

function LeaveGroupModal({ channel, onConfirm, onClose }: { channel: DMChannel; onConfirm: () => void; onClose: () => void }) {
  const me = useMe();
  return (
    <Modal
      title={`Leave ${dmTitle(channel, me.id)}`}
      onClose={onClose}
      testId="leave-group-modal"
      footer={
        <>
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button danger" onClick={onConfirm} data-testid="confirm-leave-group">
            Leave group
          </button>
        </>
      }
    >
      <p>You will no longer receive its messages, and you can come back only if someone starts a new group with you.</p>
    </Modal>
  );
}

/** The × on a DM in the list: "Close DM" (1:1) or "Leave group". */
export function DMCloseButton({ channel, current }: { channel: DMChannel; current: boolean }) {
  const me = useMe();
  const close = useCloseDM(channel, current);
  const [confirm, setConfirm] = useState(false);
  const group = isGroup(channel);
  const label = group ? `Leave group ${dmTitle(channel, me.id)}` : `Close DM with ${dmTitle(channel, me.id)}`;
  return (
    <>
      <button
        type="button"
        className="icon-button small dm-close"
        aria-label={label}
        title={group ? 'Leave group' : 'Close DM'}
        onClick={() => (group ? setConfirm(true) : close.mutate())}
        disabled={close.isPending}
        data-testid="dm-close"
      >
        ✕
      </button>
      {confirm && (
        <LeaveGroupModal
          channel={channel}
          onClose={() => setConfirm(false)}
          onConfirm={() => {
            setConfirm(false);
            close.mutate();
          }}
        />
      )}
    </>
  );
}

/** The DM header's menu: block or unblock the other person (1:1), close the DM or leave the group. */
export function DMOptions({ channel }: { channel: DMChannel }) {
  const me = useMe();
  const notify = useNotify();
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const close = useCloseDM(channel, true);
  const group = isGroup(channel);
  const other: User | undefined = group ? undefined : dmOthers(channel, me.id)[0];
  const blocked = useIsBlocked(other?.id);
  const setBlocked = useSetBlocked((e) => notify(errorMessage(e), 'error'));
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !ref.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onDown);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onDown);
    };
  }, [open]);
  return (
    <div className="member-menu-wrap" ref={ref}>
      <button
        type="button"
        className="icon-button"
        aria-label="Conversation options"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        data-testid="dm-options"
      >
        ⋯
      </button>
      {open && (
        <div className="menu dm-options-menu" role="menu">
          {other && (
            <button
              type="button"
              role="menuitem"
              className={`menu-item${blocked ? '' : ' danger'}`}
              onClick={() => {
                setOpen(false);
                setBlocked.mutate({ user: other, block: !blocked });
              }}
              data-testid={blocked ? 'unblock-user' : 'block-user'}
            >
              {blocked ? `Unblock ${displayName(other)}` : `Block ${displayName(other)}`}
            </button>
          )}
          <button
            type="button"
            role="menuitem"
            className="menu-item"
            onClick={() => {
              setOpen(false);
              if (group) setConfirm(true);
              else close.mutate();
            }}
            data-testid={group ? 'leave-group' : 'close-dm'}
          >
            {group ? 'Leave group' : 'Close DM'}
          </button>
        </div>
      )}
      {confirm && (
        <LeaveGroupModal
          channel={channel}
          onClose={() => setConfirm(false)}
          onConfirm={() => {
            setConfirm(false);
            close.mutate();
          }}
        />
      )}
    </div>
  );
}

/** Instead of the composer in a 1:1 DM with someone I block. */
export function BlockedNotice({ user }: { user: User }) {
  const notify = useNotify();
  const setBlocked = useSetBlocked((e) => notify(errorMessage(e), 'error'));
  return (
    <div className="blocked-notice" role="status" data-testid="blocked-notice">
      <span>You blocked {displayName(user)}: neither of you can send messages here.</span>
      <button type="button" className="button small" onClick={() => setBlocked.mutate({ user, block: false })} disabled={setBlocked.isPending}>
        Unblock
      </button>
    </div>
  );
}

/** The user settings' "Privacy & safety": who may open a DM with me, and the people I block. */
