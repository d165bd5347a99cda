// App-wide keyboard shortcuts (issue #16): Alt+↑/↓ (and with Shift, unread only) between the channels or DMs of
// the list on screen, Ctrl+K the quick switcher, Ctrl+/ the list of shortcuts. Listened for on window in the
// capture phase, so a focused composer (where ↑ edits the last message) never sees them.
import { useEffect, useEffectEvent, useMemo, useState } from 'react';
import { useLocation } from 'wouter';
import { sortDMs, useChannels, useDMs } from '../app/queries';
import { parseChannelsPath, useRouteIds } from '../app/routes';
import { useNotificationSettings } from '../app/settings';
import { shortcutFor, stepEntry, type NavEntry } from '../app/shortcuts';
import { isChannelMuted, showsUnread } from '../chat/notify';
import { QuickSwitcher, ShortcutList } from './lazy';
import './shell.css';

/** The channel (server) or DM (home) list in the order the sidebar shows it. */
function useNavList(): NavEntry[] {
  const { serverId } = useRouteIds();
  const home = !serverId || serverId === '@me';
  const channels = useChannels(home ? undefined : serverId);
  const dms = useDMs();
  const settings = useNotificationSettings();
  return useMemo(() => {
    if (home) {
      return sortDMs(dms.data?.channels ?? []).map((c) => ({
        path: `/channels/@me/${c.id}`,
        unread: showsUnread(c, isChannelMuted(settings, c.id, { type: 'dm' })),
      }));
    }
    return (channels.data?.channels ?? []).map((c) => ({
      path: `/channels/${serverId}/${c.id}`,
      unread: showsUnread(c, isChannelMuted(settings, c.id, { type: 'text', serverId: serverId! })),
    }));
  }, [home, serverId, channels.data, dms.data, settings]);
}

export function GlobalShortcuts() {
  const [, navigate] = useLocation();
  const list = useNavList();
  const [open, setOpen] = useState<'switcher' | 'help' | null>(null);

  const onKey = useEffectEvent((e: KeyboardEvent) => {
    const s = shortcutFor(e);
    if (!s || s.kind === 'first-unread') return; // the channel view handles that one
    // Inside a dialog only its own toggle works (no channel changes behind a modal).
    if (s.kind === 'step' && document.querySelector('[role="dialog"][aria-modal="true"]')) return;
    e.preventDefault();
    e.stopPropagation();
    if (s.kind === 'step') {
      // From the address bar, not the last render: a navigation's render can lag behind the URL (a transition), and
      // quick presses must each move one step from where the user already is.
      const { serverId, channelId } = parseChannelsPath(window.location.pathname);
      const current = serverId && channelId ? `/channels/${serverId}/${channelId}` : null;
      const to = stepEntry(list, current, s.dir, s.unread);
      if (to) navigate(to);
    } else {
      setOpen((o) => (o === s.kind ? null : s.kind));
    }
  });
  useEffect(() => {
    const h = (e: KeyboardEvent) => onKey(e);
    window.addEventListener('keydown', h, true);
    return () => window.removeEventListener('keydown', h, true);
  }, []);
  useEffect(() => {
    const show = () => setOpen('help');
    window.addEventListener('parley:shortcuts', show);
    return () => window.removeEventListener('parley:shortcuts', show);
  }, []);

  if (open === 'switcher') return <QuickSwitcher onClose={() => setOpen(null)} />;
  if (open === 'help') return <ShortcutList onClose={() => setOpen(null)} />;
  return null;
}

/** Opens the shortcut list from a button (the "?" in the user panel). */
export const showShortcuts = () => window.dispatchEvent(new Event('parley:shortcuts'));

