import { createContext, useContext, useEffect, useEffectEvent, useState, type CSSProperties, type ReactNode } from 'react';
import { useLocation } from 'wouter';
import { useRealtime } from '../realtime/RealtimeProvider';
import type { RemovalNotice } from '../realtime/realtime';
import { useRouteIds } from '../app/routes';
import { useNotify } from './notices';
import { ServerRail } from './ServerRail';
import { ServerColumn } from './ServerColumn';
import { DMColumn } from './DMColumn';
import { UserPanel } from './UserPanel';
import { AppMentions } from './mentions';
import { GlobalShortcuts } from './Shortcuts';
import { NotificationPrompt, NotificationsController, prefetchParts } from './lazy';
import { Resizer, usePanelWidth } from './Resizer';
import { CHANNEL_PANEL } from '../app/layout';

export interface ShellContext {
  openNav: () => void;
}

const ShellCtx = createContext<ShellContext>({ openNav: () => undefined });
export const useShell = () => useContext(ShellCtx);

/** The chat screen's frame; `children` is the page of the current route (App.tsx). */
export function AppShell({ children }: { children: ReactNode }) {
  const { serverId, channelId } = useRouteIds();
  const [pathname, navigate] = useLocation();
  const notify = useNotify();
  const rt = useRealtime();
  // The phone drawer is open for the page it was opened on: navigating closes it.
  const [navOpenAt, setNavOpenAt] = useState<string | null>(null);
  const navOpen = navOpenAt === pathname;
  const setNavOpen = (open: boolean) => setNavOpenAt(open ? pathname : null);

  // Deleted servers/channels and kicks: tell the user, and leave if it was the current one.
  const onRemoved = useEffectEvent((n: RemovalNotice) => {
    if (n.kind === 'server') {
      notify(n.message, 'info');
      if (serverId === n.id) navigate('/channels/@me', { replace: true });
    } else if (channelId === n.id) {
      notify(n.message, 'info');
      navigate(n.serverId ? `/channels/${n.serverId}` : '/channels/@me', { replace: true });
    }
  });
  useEffect(() => rt.membership.onRemoved((n) => onRemoved(n)), [rt]);
  useEffect(() => prefetchParts(), []);

  const home = serverId === '@me' || !serverId;
  const [channelWidth, setChannelWidth] = usePanelWidth(CHANNEL_PANEL);

  return (
    <div className="app" data-nav-open={navOpen ? 'true' : 'false'} style={{ '--channel-width': `${channelWidth}px` } as CSSProperties}>
      <nav className="sidebar" aria-label="Servers and channels" data-testid="sidebar">
        <ServerRail />
        <div className="channel-column" id="channel-column" data-testid="channel-column">
          {home ? <DMColumn /> : <ServerColumn serverId={serverId!} />}
          <NotificationPrompt />
          <UserPanel />
          <Resizer
            spec={CHANNEL_PANEL}
            width={channelWidth}
            onChange={setChannelWidth}
            label="Resize the channel list"
            side="right"
            controls="channel-column"
            testId="channel-resizer"
          />
        </div>
      </nav>
      <button
        type="button"
        className="nav-scrim"
        aria-label="Close navigation"
        tabIndex={navOpen ? 0 : -1}
        onClick={() => setNavOpen(false)}
      />
      <AppMentions>
        <ShellCtx.Provider value={{ openNav: () => setNavOpen(true) }}>{children}</ShellCtx.Provider>
      </AppMentions>
      <NotificationsController />
      <GlobalShortcuts />
    </div>
  );
}
