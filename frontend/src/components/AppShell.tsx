import { useEffect, useRef, useState } from 'react';
import { Outlet, useLocation, useNavigate, useOutletContext } from 'react-router';
import { useRealtime } from '../realtime/RealtimeProvider';
import { useRouteIds } from '../app/routes';
import { useNotify } from './notices';
import { ServerRail } from './ServerRail';
import { ServerColumn } from './ServerColumn';
import { DMColumn } from './DMColumn';
import { UserPanel } from './UserPanel';

export interface ShellContext {
  openNav: () => void;
}

export const useShell = () => useOutletContext<ShellContext>();

export function AppShell() {
  const { serverId, channelId } = useRouteIds();
  const location = useLocation();
  const navigate = useNavigate();
  const notify = useNotify();
  const rt = useRealtime();
  const [navOpen, setNavOpen] = useState(false);
  const current = useRef({ serverId, channelId });
  current.current = { serverId, channelId };

  // Close the phone drawer after navigating.
  useEffect(() => setNavOpen(false), [location.pathname]);

  // Deleted servers/channels and kicks: tell the user, and leave if it was the current one.
  useEffect(
    () =>
      rt.onRemoved((n) => {
        const cur = current.current;
        if (n.kind === 'server') {
          notify(n.message, 'info');
          if (cur.serverId === n.id) navigate('/channels/@me', { replace: true });
        } else if (cur.channelId === n.id) {
          notify(n.message, 'info');
          navigate(n.serverId ? `/channels/${n.serverId}` : '/channels/@me', { replace: true });
        }
      }),
    [rt, navigate, notify],
  );

  const home = serverId === '@me' || !serverId;

  return (
    <div className="app" data-nav-open={navOpen ? 'true' : 'false'}>
      <nav className="sidebar" aria-label="Servers and channels" data-testid="sidebar">
        <ServerRail />
        <div className="channel-column">
          {home ? <DMColumn /> : <ServerColumn serverId={serverId!} />}
          <UserPanel />
        </div>
      </nav>
      <button
        type="button"
        className="nav-scrim"
        aria-label="Close navigation"
        tabIndex={navOpen ? 0 : -1}
        onClick={() => setNavOpen(false)}
      />
      <Outlet context={{ openNav: () => setNavOpen(true) } satisfies ShellContext} />
    </div>
  );
}
