// Movable panels (issue #16): the channel column and the member list can be resized (drag the edge, or arrow keys
// on the focused separator) and the channel list collapsed; remembered per device in localStorage.
import type { Id } from '../api/types';

export interface PanelSpec {
  key: string;
  initial: number;
  min: number;
  max: number;
}

export const CHANNEL_PANEL: PanelSpec = { key: 'channels', initial: 240, min: 180, max: 420 };
export const MEMBER_PANEL: PanelSpec = { key: 'members', initial: 240, min: 180, max: 420 };
/** One arrow key press; with Shift, a bigger step. */
export const KEY_STEP = 16;

const widthKey = (key: string) => `parley.layout.${key}`;

export const clampWidth = (spec: PanelSpec, w: number) => Math.round(Math.min(spec.max, Math.max(spec.min, w)));

export function readWidth(spec: PanelSpec): number {
  try {
    const v = Number(localStorage.getItem(widthKey(spec.key)));
    return v ? clampWidth(spec, v) : spec.initial;
  } catch {
    return spec.initial;
  }
}

export function writeWidth(spec: PanelSpec, w: number) {
  try {
    localStorage.setItem(widthKey(spec.key), String(clampWidth(spec, w)));
  } catch {
    /* private mode: the width lasts for this page only */
  }
}

/** The width after a key on the separator (null: not a resize key). `grow` is the key that widens the panel. */
export function widthForKey(spec: PanelSpec, width: number, key: string, shift: boolean, grow: 'ArrowRight' | 'ArrowLeft'): number | null {
  const step = shift ? KEY_STEP * 4 : KEY_STEP;
  const shrink = grow === 'ArrowRight' ? 'ArrowLeft' : 'ArrowRight';
  if (key === grow) return clampWidth(spec, width + step);
  if (key === shrink) return clampWidth(spec, width - step);
  if (key === 'Home') return spec.min;
  if (key === 'End') return spec.max;
  return null;
}

const collapsedKey = (serverId: Id) => `parley.collapsed.${serverId}`;

export function readCollapsed(serverId: Id): boolean {
  try {
    return localStorage.getItem(collapsedKey(serverId)) === '1';
  } catch {
    return false;
  }
}

export function writeCollapsed(serverId: Id, collapsed: boolean) {
  try {
    if (collapsed) localStorage.setItem(collapsedKey(serverId), '1');
    else localStorage.removeItem(collapsedKey(serverId));
  } catch {
    /* as above */
  }
}

/** A collapsed list still shows the open channel and those with something unread (as Discord's categories do). */
export function visibleWhenCollapsed<T extends { id: Id }>(channels: T[], currentId: Id | null, unread: (c: T) => boolean): T[] {
  return channels.filter((c) => c.id === currentId || unread(c));
}
