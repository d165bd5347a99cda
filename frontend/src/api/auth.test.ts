import { describe, expect, it, vi } from 'vitest';
import { AuthManager, SESSION_EXPIRED_MESSAGE, SESSION_KEY, type Session } from './auth';
import { ApiError, createHttpClient } from './http';
import type { AuthResult } from './types';

const T0 = Date.parse('2026-11-24T07:00:00Z');

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

function authResult(n: number, expiresAt = Date.now() + 15 * 60_000): AuthResult {
  return {
    user: { id: '42', username: 'alice', displayName: 'Alice', avatarUrl: '', createdAt: '2026-01-01T00:00:00Z', email: 'a@x.io' },
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    accessTokenExpiresAt: new Date(expiresAt).toISOString(),
  };
}

function seed(storage: Storage, n: number, opts: { expiresAt?: number; receivedAt?: number } = {}) {
  const s: Session = { ...authResult(n, opts.expiresAt), receivedAt: opts.receivedAt ?? Date.now() - 10 * 60_000 };
  storage.setItem(SESSION_KEY, JSON.stringify(s));
}

/** A fake server: rotates refresh tokens and revokes on reuse. */
function fakeServer() {
  let current = 1;
  const used = new Set<string>();
  const refreshBodies: string[] = [];
  let revoked = false;
  let validAccess = 'access-1';
  const fetchImpl = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url);
    if (path === '/api/auth/refresh') {
      const { refreshToken } = JSON.parse(String(init?.body));
      refreshBodies.push(refreshToken);
      await new Promise((r) => setTimeout(r, 5));
      if (revoked || used.has(refreshToken) || refreshToken !== `refresh-${current}`) {
        revoked = true;
        return json(401, { error: { code: 'unauthorized', message: 'refresh token reused' } });
      }
      used.add(refreshToken);
      current++;
      validAccess = `access-${current}`;
      return json(200, authResult(current, Date.now() + 15 * 60_000));
    }
    if (path === '/api/auth/logout') return json(204, undefined);
    const auth = new Headers(init?.headers).get('Authorization');
    if (auth !== `Bearer ${validAccess}`) return json(401, { error: { code: 'token_expired', message: 'expired' } });
    return json(200, { ok: path });
  });
  return {
    fetchImpl,
    refreshBodies,
    get revoked() {
      return revoked;
    },
  };
}

const noLock = <T,>(_n: string, fn: () => Promise<T>) => fn();

describe('AuthManager single-flight refresh', () => {
  it('shares one refresh among concurrent callers', async () => {
    seed(localStorage, 1);
    const server = fakeServer();
    const auth = new AuthManager({ fetchImpl: server.fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
    const results = await Promise.all([auth.refresh('access-1'), auth.refresh('access-1'), auth.refresh(), auth.refresh('access-1')]);
    expect(results).toEqual(['access-2', 'access-2', 'access-2', 'access-2']);
    expect(server.refreshBodies).toEqual(['refresh-1']);
    expect(auth.getSession()?.refreshToken).toBe('refresh-2');
    expect(JSON.parse(localStorage.getItem(SESSION_KEY)!).refreshToken).toBe('refresh-2');
  });

  it('after another tab refreshed, requests use the new token without refreshing again', async () => {
    seed(localStorage, 1);
    const server = fakeServer();
    const auth = new AuthManager({ fetchImpl: server.fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, server.fetchImpl as typeof fetch);
    // The server considers access-1 expired already.
    await server.fetchImpl('/api/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken: 'refresh-1' }) });
    // ...which rotated the token behind our back: simulate "another tab" by writing the new session to storage.
    localStorage.setItem(SESSION_KEY, JSON.stringify({ ...authResult(2), receivedAt: Date.now() }));
    server.refreshBodies.length = 0;
    auth.syncFromStorage();
    const a = await Promise.all([http.get('/a'), http.get('/b'), http.get('/c')]);
    expect(a).toEqual([{ ok: '/api/a' }, { ok: '/api/b' }, { ok: '/api/c' }]);
    expect(server.refreshBodies).toEqual([]);
  });

  it('refreshes once when several requests hit token_expired together', async () => {
    seed(localStorage, 1);
    const server = fakeServer();
    // Make the server reject access-1 as expired.
    const fetchImpl = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get('Authorization');
      if (auth === 'Bearer access-1') return json(401, { error: { code: 'token_expired', message: 'expired' } });
      return server.fetchImpl(url, init);
    });
    const auth = new AuthManager({ fetchImpl: fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, fetchImpl as typeof fetch);
    const out = await Promise.all([http.get('/x'), http.get('/y'), http.get('/z')]);
    expect(out.map((o) => (o as { ok: string }).ok)).toEqual(['/api/x', '/api/y', '/api/z']);
    expect(server.refreshBodies).toEqual(['refresh-1']);
    expect(server.revoked).toBe(false);
  });

  it('never sends a refresh token twice, even for sequential expiries', async () => {
    seed(localStorage, 1);
    const server = fakeServer();
    const auth = new AuthManager({ fetchImpl: server.fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
    await auth.refresh('access-1');
    // A late 401 for the OLD access token must not trigger another refresh.
    expect(await auth.refresh('access-1')).toBe('access-2');
    await auth.refresh('access-2');
    expect(server.refreshBodies).toEqual(['refresh-1', 'refresh-2']);
    expect(new Set(server.refreshBodies).size).toBe(server.refreshBodies.length);
  });

  it('adopts a refresh done by another tab instead of spending the old token', async () => {
    seed(localStorage, 1);
    const server = fakeServer();
    const auth = new AuthManager({ fetchImpl: server.fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
    // Another tab rotated while we were waiting for the lock.
    localStorage.setItem(SESSION_KEY, JSON.stringify({ ...authResult(7), receivedAt: Date.now() }));
    expect(await auth.refresh('access-1')).toBe('access-7');
    expect(server.refreshBodies).toEqual([]);
  });

  it('logs out with a message when the refresh is rejected', async () => {
    seed(localStorage, 1);
    const fetchImpl = vi.fn(async () => json(401, { error: { code: 'unauthorized', message: 'revoked' } }));
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const listener = vi.fn();
    auth.subscribe(listener);
    await expect(auth.refresh()).rejects.toBeInstanceOf(ApiError);
    expect(auth.getSession()).toBeNull();
    expect(auth.logoutReason).toBe(SESSION_EXPIRED_MESSAGE);
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
    expect(listener).toHaveBeenCalled();
  });

  it('keeps the session on a network failure', async () => {
    seed(localStorage, 1);
    const fetchImpl = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    });
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'network' });
    expect(auth.getSession()?.refreshToken).toBe('refresh-1');
  });

  it('refreshes before use when the access token is about to expire', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    try {
      seed(localStorage, 1, { expiresAt: T0 + 20_000, receivedAt: T0 - 14 * 60_000 });
      const server = fakeServer();
      const auth = new AuthManager({ fetchImpl: server.fetchImpl as typeof fetch, lock: noLock, autoRefresh: false });
      expect(await auth.getAccessToken()).toBe('access-2');
      expect(server.refreshBodies).toEqual(['refresh-1']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stays logged in across reloads (reads localStorage)', () => {
    seed(localStorage, 3);
    const auth = new AuthManager({ autoRefresh: false });
    expect(auth.getSession()?.user.username).toBe('alice');
    expect(auth.getSession()?.accessToken).toBe('access-3');
  });
});

describe('http client', () => {
  it('parses the error shape into ApiError', async () => {
    seed(localStorage, 1);
    const fetchImpl = vi.fn(async () =>
      json(400, { error: { code: 'invalid_input', message: 'username must be 3-32 characters', field: 'username' } }),
    );
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, fetchImpl as unknown as typeof fetch);
    const err = await http.post('/servers', { name: '' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_input', field: 'username', message: 'username must be 3-32 characters' });
  });

  it('reads Retry-After on 429 and falls back to the status for non-JSON bodies', async () => {
    seed(localStorage, 1);
    const answers = [
      json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '3' }),
      new Response('<html>bad gateway</html>', { status: 502 }),
    ];
    const fetchImpl = vi.fn(async () => answers.shift()!);
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, fetchImpl as unknown as typeof fetch);
    const e1 = await http.get('/a').catch((e) => e);
    expect(e1).toMatchObject({ code: 'rate_limited', retryAfterMs: 3000, retryable: true });
    const e2 = await http.get('/b').catch((e) => e);
    expect(e2).toMatchObject({ status: 502, code: 'unavailable' });
  });

  it('logs out on a plain 401 unauthorized', async () => {
    seed(localStorage, 1);
    const fetchImpl = vi.fn(async () => json(401, { error: { code: 'unauthorized', message: 'bad token' } }));
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, fetchImpl as unknown as typeof fetch);
    await expect(http.get('/x')).rejects.toMatchObject({ code: 'unauthorized' });
    expect(auth.getSession()).toBeNull();
    expect(auth.logoutReason).toBe(SESSION_EXPIRED_MESSAGE);
  });

  it('sends the bearer token and JSON body', async () => {
    seed(localStorage, 5);
    const fetchImpl = vi.fn(async (_u: string, _i?: RequestInit) => json(201, { id: '1' }));
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const http = createHttpClient(auth, fetchImpl as unknown as typeof fetch);
    await http.post('/servers', { name: 'x' });
    const [url, init] = fetchImpl.mock.calls[0];
    expect(url).toBe('/api/servers');
    expect(new Headers(init?.headers).get('Authorization')).toBe('Bearer access-5');
    expect(init?.body).toBe('{"name":"x"}');
  });
});

describe('registration with email verification', () => {
  it('a 202 is a mailed link, not a session; the link logs in', async () => {
    localStorage.clear();
    const calls: string[] = [];
    const fetchImpl = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      calls.push(`${String(url)} ${String(init?.body)}`);
      if (String(url) === '/api/auth/register') return json(202, { verification: 'sent', email: 'ivy@example.com' });
      return json(201, authResult(1));
    });
    const auth = new AuthManager({ fetchImpl: fetchImpl as unknown as typeof fetch, lock: noLock, autoRefresh: false });
    const res = await auth.register({ username: 'ivy', email: 'ivy@example.com', password: 'correct horse battery' });
    expect(res).toEqual({ verification: 'sent', email: 'ivy@example.com' });
    expect(auth.getSession()).toBeNull();
    const s = await auth.verifyEmail('tok_en-1');
    expect(s.accessToken).toBe('access-1');
    expect(auth.getSession()?.user.username).toBe('alice');
    expect(calls[1]).toBe('/api/auth/verify-email {"token":"tok_en-1"}');
    auth.logout(undefined, false);
  });
});
