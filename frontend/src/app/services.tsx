// The app's long-lived services (auth, REST api, query client), created once and handed down by context so tests
// can pass their own.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useRef, useSyncExternalStore, type ReactNode } from 'react';
import { AuthManager, type Session } from '../api/auth';
import { createApi, type Api } from '../api/endpoints';
import { createHttpClient, isApiError } from '../api/http';
import { syncFilesCookie } from '../api/files';

/**
 * An answer that asking again will not change: a 4xx other than 408/429 (not found, forbidden, invalid...). Such a
 * query is neither retried nor refetched just because another component mounted an observer for it (React Query
 * refetches errored queries on mount by default, which flips them back to pending: two components taking turns
 * rendering on "error" and "pending" was the ~100 requests/s loop of issue #16 item 3). It is fetched again only
 * when invalidated (a join, a reconnect catch-up) or when its page is opened anew.
 */
export function isPermanentError(e: unknown): boolean {
  return isApiError(e) && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

export interface Services {
  auth: AuthManager;
  api: Api;
  queryClient: QueryClient;
}

export function createServices(auth = new AuthManager()): Services {
  const api = createApi(createHttpClient(auth));
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        retry: (count, e) => !isPermanentError(e) && count < 2,
        retryOnMount: (query) => !isPermanentError(query.state.error),
      },
      mutations: { retry: false },
    },
  });
  return { auth, api, queryClient };
}

const ServicesContext = createContext<Services | null>(null);

export function ServicesProvider({ services, children }: { services: Services; children: ReactNode }) {
  const { auth, queryClient } = services;
  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (e.key === null || e.key === 'parley.session') auth.syncFromStorage();
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [auth]);
  // Attachments load through <img>/<video>, which cannot send the token: keep the files cookie current.
  useEffect(() => {
    const sync = () => void syncFilesCookie(auth.getSession()?.accessToken);
    sync();
    return auth.subscribe(sync);
  }, [auth]);
  // Drop every cached answer when the user changes (logout, or another account in another tab).
  const userId = useSyncExternalStore(auth.subscribe, () => auth.getSession()?.user.id ?? null);
  const prevUser = useRef(userId);
  useEffect(() => {
    if (prevUser.current !== userId && prevUser.current !== null) queryClient.clear();
    prevUser.current = userId;
  }, [userId, queryClient]);
  return (
    <ServicesContext.Provider value={services}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </ServicesContext.Provider>
  );
}

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error('ServicesProvider missing');
  return s;
}

export function useApi(): Api {
  return useServices().api;
}

export function useSession(): Session | null {
  const { auth } = useServices();
  return useSyncExternalStore(auth.subscribe, auth.getSession);
}

/** The logged-in user; only inside authenticated routes. */
export function useMe() {
  const s = useSession();
  if (!s) throw new Error('useMe outside an authenticated route');
  return s.user;
}
