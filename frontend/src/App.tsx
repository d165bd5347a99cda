import { lazy, Suspense, useEffect, type ComponentType, type ReactNode } from 'react';
import { Redirect, Route, Switch, useLocation, useSearch } from 'wouter';
import type { SocketFactory } from './api/socket';
import { ServicesProvider, useSession, type Services } from './app/services';
import { NoticeProvider } from './components/notices';
import { ScreenErrorBoundary } from './components/ScreenErrorBoundary';
import { ThemeProvider } from './theme/theme';

// Only the routing skeleton is in the entry chunk; each screen comes as its own chunk when first shown
// (initial JavaScript budget: scripts/bundle-budget.mjs). The chat screen's parts share one import.
// The socket client is a chunk of its own (api/socket.ts); fetch it beside the chat screen, not after it.
export const loadChat = () => {
  void import('socket.io-client').catch(() => undefined);
  return import('./app/chatRoutes');
};
const loadAuth = () => import('./pages/AuthPages');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same bound as React.lazy's own signature
function lazyNamed<M extends Record<K, ComponentType<any>>, K extends keyof M>(load: () => Promise<M>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }));
}
const LoginPage = lazyNamed(loadAuth, 'LoginPage');
const RegisterPage = lazyNamed(loadAuth, 'RegisterPage');
const VerifyEmailPage = lazyNamed(loadAuth, 'VerifyEmailPage');
const InvitePage = lazyNamed(() => import('./pages/InvitePage'), 'InvitePage');
const RealtimeProvider = lazyNamed(loadChat, 'RealtimeProvider');
const AppShell = lazyNamed(loadChat, 'AppShell');
const DMHome = lazyNamed(loadChat, 'DMHome');
const DMChannelPage = lazyNamed(loadChat, 'DMChannelPage');
const ServerRedirect = lazyNamed(loadChat, 'ServerRedirect');
const ServerChannelPage = lazyNamed(loadChat, 'ServerChannelPage');

/** Once the first screen is up and the browser is idle, fetch the other screens too: the next one opens at once,
 * and still opens if the connection drops in between (logging out offline, say). */
function usePrefetchScreens() {
  useEffect(() => {
    const prefetch = () => void Promise.all([loadAuth(), loadChat()]).catch(() => undefined);
    if (typeof window.requestIdleCallback === 'function') {
      const id = window.requestIdleCallback(prefetch, { timeout: 3000 });
      return () => window.cancelIdleCallback(id);
    }
    const t = setTimeout(prefetch, 1000);
    return () => clearTimeout(t);
  }, []);
}

/** /channels/<server or @me> and /channels/<server or @me>/<channel> (wouter matches a RegExp as is). */
const CHAT_PATHS = /^\/channels\/[^/]+(?:\/[^/]+)?\/?$/;

function RouteLoading() {
  return <div className="route-loading" role="status" aria-label="Loading" />;
}

function RequireAuth({ socketFactory, children }: { socketFactory?: SocketFactory; children: ReactNode }) {
  const session = useSession();
  const [pathname] = useLocation();
  const search = useSearch();
  if (!session) {
    const next = pathname + (search ? `?${search}` : '');
    return <Redirect to={next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'} replace />;
  }
  return <RealtimeProvider socketFactory={socketFactory}>{children}</RealtimeProvider>;
}

function Themed({ children }: { children: React.ReactNode }) {
  const session = useSession();
  return <ThemeProvider userId={session?.user.id ?? null}>{children}</ThemeProvider>;
}

export function AppRoutes({ socketFactory }: { socketFactory?: SocketFactory }) {
  usePrefetchScreens();
  return (
    <ScreenErrorBoundary>
      <Suspense fallback={<RouteLoading />}>
        <Switch>
          <Route path="/login">
            <LoginPage />
          </Route>
          <Route path="/register">
            <RegisterPage />
          </Route>
          <Route path="/verify-email">
            <VerifyEmailPage />
          </Route>
          <Route path="/invite/:code">
            <InvitePage />
          </Route>
          {/* One Route for the whole chat screen: the shell stays mounted while the page inside it changes. */}
          <Route path={CHAT_PATHS}>
            <RequireAuth socketFactory={socketFactory}>
              <AppShell>
                <Switch>
                  <Route path="/channels/@me">
                    <DMHome />
                  </Route>
                  <Route path="/channels/@me/:channelId">
                    <DMChannelPage />
                  </Route>
                  <Route path="/channels/:serverId">
                    <ServerRedirect />
                  </Route>
                  <Route path="/channels/:serverId/:channelId">
                    <ServerChannelPage />
                  </Route>
                </Switch>
              </AppShell>
            </RequireAuth>
          </Route>
          <Route>
            <Redirect to="/channels/@me" replace />
          </Route>
        </Switch>
      </Suspense>
    </ScreenErrorBoundary>
  );
}

export function App({ services }: { services: Services }) {
  return (
    <ServicesProvider services={services}>
      <Themed>
        <NoticeProvider>
          <AppRoutes />
        </NoticeProvider>
      </Themed>
    </ServicesProvider>
  );
}
