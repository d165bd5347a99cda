import { render } from '@testing-library/react';
import { useState, type ReactElement, type ReactNode } from 'react';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { AuthManager, SESSION_KEY } from '../api/auth';
import { createServices, ServicesProvider } from '../app/services';

export function loggedIn(userId = 'me') {
  localStorage.setItem(
    SESSION_KEY,
    JSON.stringify({
      user: { id: userId, username: 'me', displayName: 'Me Myself', avatarUrl: '', createdAt: '', email: '' },
      accessToken: 'a',
      refreshToken: 'r',
      accessTokenExpiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      receivedAt: Date.now(),
    }),
  );
}

/** An in-memory router starting at `route` (path and query); navigation works, the browser's URL is untouched. */
export function TestRouter({ route, children }: { route: string; children: ReactNode }) {
  const [location] = useState(() => memoryLocation({ path: route }));
  return <Router hook={location.hook}>{children}</Router>;
}

export function renderWithServices(ui: ReactElement, { route = '/' }: { route?: string } = {}) {
  const services = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
  const result = render(
    <ServicesProvider services={services}>
      <TestRouter route={route}>{ui}</TestRouter>
    </ServicesProvider>,
  );
  return { ...result, services };
}
