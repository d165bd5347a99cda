import { useLocation } from 'wouter';
import type { Id } from '../api/types';

export interface RouteIds {
  /** '@me' for the DM home, a server id, or null outside /channels. */
  serverId: string | null;
  channelId: Id | null;
}

export function parseChannelsPath(pathname: string): RouteIds {
  const m = /^\/channels\/([^/]+)(?:\/([^/]+))?\/?$/.exec(pathname);
  if (!m) return { serverId: null, channelId: null };
  return { serverId: decodeURIComponent(m[1]), channelId: m[2] ? decodeURIComponent(m[2]) : null };
}

export function useRouteIds(): RouteIds {
  return parseChannelsPath(useLocation()[0]);
}

export const channelPath = (serverId: Id | '@me', channelId?: Id) =>
  channelId ? `/channels/${serverId}/${channelId}` : `/channels/${serverId}`;

export const inviteLink = (code: string) => `${window.location.origin}/invite/${code}`;

/** Accepts a bare code or any link ending in /invite/<code>. */
export function parseInviteInput(input: string): string | null {
  const s = input.trim();
  if (!s) return null;
  const m = /\/invite\/([A-Za-z0-9_-]+)\/?(?:[?#].*)?$/.exec(s);
  if (m) return m[1];
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : null;
}

const LAST_CHANNEL = new Map<string, Id>();
export const rememberChannel = (serverId: string, channelId: Id) => LAST_CHANNEL.set(serverId, channelId);
export const lastChannel = (serverId: string) => LAST_CHANNEL.get(serverId);
