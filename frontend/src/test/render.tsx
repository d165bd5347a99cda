import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router';
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

export function renderWithServices(ui: ReactElement, { route = '/' }: { route?: string } = {}) {
  const services = createServices(new AuthManager({ autoRefresh: false, lock: (_n, fn) => fn() }));
  const result = render(
    <ServicesProvider services={services}>
      <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
    </ServicesProvider>,
  );
  return { ...result, services };
}
