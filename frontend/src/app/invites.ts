// The small pure helpers the invite and ban screens use; moved out of app/safety.ts so that only those (lazy)
// screens carry them.
import type { Invite } from '../api/types';

/** Expiry choices of the invite dialog (seconds; 0 = never), Discord's list. */
export const INVITE_EXPIRY = [
  { label: '30 minutes', value: 1800 },
  { label: '1 hour', value: 3600 },
  { label: '6 hours', value: 6 * 3600 },
  { label: '12 hours', value: 12 * 3600 },
  { label: '1 day', value: 86400 },
  { label: '7 days', value: 7 * 86400 },
  { label: 'Never', value: 0 },
] as const;
export const DEFAULT_INVITE_EXPIRY = 7 * 86400;
export const INVITE_USES = [0, 1, 5, 10, 25, 50, 100] as const;

export type InviteState = 'active' | 'expired' | 'used up';

export function inviteState(inv: Pick<Invite, 'expiresAt' | 'maxUses' | 'uses'>, now = Date.now()): InviteState {
  if (inv.expiresAt && Date.parse(inv.expiresAt) <= now) return 'expired';
  if (inv.maxUses !== null && inv.uses >= inv.maxUses) return 'used up';
  return 'active';
}

/** "never", "in 3 days", "in 5 hours", "in 12 minutes", or "expired". */
export function expiresIn(expiresAt: string | null, now = Date.now()): string {
  if (!expiresAt) return 'never';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'expired';
  const min = Math.ceil(ms / 60_000);
  if (min < 60) return `in ${min} minute${min === 1 ? '' : 's'}`;
  const h = Math.round(min / 60);
  if (h < 48) return `in ${h} hour${h === 1 ? '' : 's'}`;
  const d = Math.round(h / 24);
  return `in ${d} days`;
}

/** "3", or "3 / 10" with a limit. */
export function usesLabel(inv: Pick<Invite, 'maxUses' | 'uses'>): string {
  return inv.maxUses === null ? String(inv.uses) : `${inv.uses} / ${inv.maxUses}`;
}
