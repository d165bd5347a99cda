// The presence a user chooses (issue #16): online (idle comes by itself after a while away), idle, do not disturb
// (no desktop notifications, no sounds) or invisible (others see offline). Stored in the settings, so every device
// follows it; each tab tells the server through presence:set, and the last choice is remembered on the device so
// a reload's handshake starts with it (an invisible user never flashes online).
import type { ChosenStatus, Id, PresenceStatus } from '../api/types';

export const isChosenStatus = (v: unknown): v is ChosenStatus => v === 'online' || v === 'idle' || v === 'dnd' || v === 'invisible';

/** What this tab tells the server: the choice, or (when the choice is "online") whether the user is active. */
export function wireStatus(chosen: ChosenStatus, idle: boolean): ChosenStatus {
  return chosen === 'online' ? (idle ? 'idle' : 'online') : chosen;
}

/** How my own avatar looks: offline while disconnected, else what I chose (online follows activity). */
export function ownStatus(chosen: ChosenStatus, idle: boolean, connected: boolean): PresenceStatus {
  if (!connected) return 'offline';
  return wireStatus(chosen, idle);
}

const hintKey = (userId: Id) => `parley.status.${userId}`;

export function readStatusHint(userId: Id | undefined): ChosenStatus {
  if (!userId) return 'online';
  try {
    const v = localStorage.getItem(hintKey(userId));
    return isChosenStatus(v) ? v : 'online';
  } catch {
    return 'online';
  }
}

export function writeStatusHint(userId: Id, status: ChosenStatus) {
  try {
    if (status === 'online') localStorage.removeItem(hintKey(userId));
    else localStorage.setItem(hintKey(userId), status);
  } catch {
    /* private mode: the settings still carry it */
  }
}
