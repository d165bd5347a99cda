import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation } from 'react-router';
import type { SocketFactory } from './api/socket';
import { ServicesProvider, useSession, type Services } from './app/services';
import { AppShell } from './components/AppShell';
import { NoticeProvider } from './components/notices';
import { LoginPage, RegisterPage } from './pages/AuthPages';
import { DMChannelPage, DMHome, ServerChannelPage, ServerRedirect } from './pages/ChannelPages';
import { InvitePage } from './pages/InvitePage';
import { RealtimeProvider } from './realtime/RealtimeProvider';
import { ThemeProvider } from './theme/theme';

function RequireAuth({ socketFactory }: { socketFactory?: SocketFactory }) {
  const session = useSession();
  const location = useLocation();
  if (!session) {
    const next = location.pathname + location.search;
    return <Navigate to={next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'} replace />;
  }
  return (
    <RealtimeProvider socketFactory={socketFactory}>
      <Outlet />
    </RealtimeProvider>
  );
}

function Themed({ children }: { children: React.ReactNode }) {
  const session = useSession();
  return <ThemeProvider userId={session?.user.id ?? null}>{children}</ThemeProvider>;
}

export function AppRoutes({ socketFactory }: { socketFactory?: SocketFactory }) {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/register" element={<RegisterPage />} />
      <Route path="/invite/:code" element={<InvitePage />} />
      <Route element={<RequireAuth socketFactory={socketFactory} />}>
        <Route element={<AppShell />}>
          <Route path="/channels/@me" element={<DMHome />} />
          <Route path="/channels/@me/:channelId" element={<DMChannelPage />} />
          <Route path="/channels/:serverId" element={<ServerRedirect />} />
          <Route path="/channels/:serverId/:channelId" element={<ServerChannelPage />} />
        </Route>
      </Route>
      <Route path="*" element={<Navigate to="/channels/@me" replace />} />
    </Routes>
  );
}

export function App({ services }: { services: Services }) {
  return (
    <ServicesProvider services={services}>
      <Themed>
        <NoticeProvider>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </NoticeProvider>
      </Themed>
    </ServicesProvider>
  );
}
