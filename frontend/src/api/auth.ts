// The session: tokens in localStorage, a silent refresh before the access token expires and on `token_expired`.
// Refresh tokens rotate and reusing one revokes the whole session, so exactly one refresh may be in flight: every
// caller shares it, and across tabs a Web Lock plus a re-read of localStorage keeps two tabs from spending the same
// refresh token.
import { ApiError, rawRequest, type TokenSource } from './http';
import type { AuthResult, LoginBody, Me, RegisterBody, VerificationSent } from './types';
import { cleanName } from '../chat/bidi';

export const SESSION_KEY = 'parley.session';
const LOCK_NAME = 'parley.refresh';
/** Refresh when the access token has less than this left. */
const EXPIRY_SKEW_MS = 60_000;
/** Never refresh proactively again within this long of the last refresh (guards against a skewed clock). */
const MIN_REFRESH_INTERVAL_MS = 30_000;

export const SESSION_EXPIRED_MESSAGE = 'Your session has expired. Please log in again.';

export interface Session {
  user: Me;
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
  /** Local time (ms) when these tokens were received. */
  receivedAt: number;
}

export type LockFn = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export interface AuthManagerOptions {
  storage?: Storage;
  fetchImpl?: typeof fetch;
  now?: () => number;
  lock?: LockFn;
  /** Disable the proactive refresh timer (tests). */
  autoRefresh?: boolean;
}

type Listener = () => void;

const defaultLock: LockFn = (name, fn) => {
  const locks = typeof navigator !== 'undefined' ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
  if (locks && typeof locks.request === 'function') {
    return locks.request(name, { mode: 'exclusive' }, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
  }
  return fn();
};

function parseSession(raw: string | null): Session | null {
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (s && typeof s.accessToken === 'string' && typeof s.refreshToken === 'string' && s.user?.id) return s;
  } catch {
    /* corrupt entry: treat as logged out */
  }
  return null;
}

export class AuthManager implements TokenSource {
  private session: Session | null;
  private inflight: Promise<string> | null = null;
  private listeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly storage: Storage | undefined;
  private readonly fetchImpl?: typeof fetch;
  private readonly now: () => number;
  private readonly lock: LockFn;
  private readonly autoRefresh: boolean;
  /** Why the user was last logged out without asking (shown on the login page). */
  logoutReason: string | null = null;

  constructor(opts: AuthManagerOptions = {}) {
    this.storage = opts.storage ?? (typeof localStorage !== 'undefined' ? localStorage : undefined);
    this.fetchImpl = opts.fetchImpl;
    this.now = opts.now ?? Date.now;
    this.lock = opts.lock ?? defaultLock;
    this.autoRefresh = opts.autoRefresh ?? true;
    this.session = this.load();
    this.schedule();
  }

  // --- state ------------------------------------------------------------------------------------------------

  getSession = (): Session | null => this.session;

  subscribe = (l: Listener): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  private emit() {
    for (const l of this.listeners) l();
  }

  private load(): Session | null {
    try {
      return parseSession(this.storage?.getItem(SESSION_KEY) ?? null);
    } catch {
      return null;
    }
  }

  private store(s: Session | null) {
    try {
      if (s) this.storage?.setItem(SESSION_KEY, JSON.stringify(s));
      else this.storage?.removeItem(SESSION_KEY);
    } catch {
      /* storage full or blocked: the session still lives in memory */
    }
  }

  private setSession(s: Session | null) {
    this.session = s;
    this.store(s);
    this.schedule();
    this.emit();
  }

  /** Adopt what another tab wrote to localStorage (wire to the window `storage` event). */
  syncFromStorage = () => {
    const stored = this.load();
    const cur = this.session;
    if (stored?.refreshToken === cur?.refreshToken && stored?.accessToken === cur?.accessToken) return;
    if (!stored && cur) this.logoutReason = null; // logged out elsewhere, on purpose
    this.session = stored;
    this.schedule();
    this.emit();
  };

  updateUser(user: Me) {
    if (!this.session) return;
    this.setSession({ ...this.session, user });
  }

  // --- login / logout -------------------------------------------------------------------------------------

  private accept(res: AuthResult): Session {
    if (!res || typeof res.accessToken !== 'string' || typeof res.refreshToken !== 'string' || !res.user?.id) {
      throw new ApiError(502, 'internal', 'The server sent an unexpected login answer.');
    }
    const s: Session = { ...res, receivedAt: this.now() };
    this.logoutReason = null;
    this.setSession(s);
    return s;
  }

  async login(body: LoginBody): Promise<Session> {
    return this.accept(await rawRequest<AuthResult>('/auth/login', { method: 'POST', body, fetchImpl: this.fetchImpl }));
  }

  /** Creates the account and logs in; on a server that verifies addresses, a link is mailed instead. */
  async register(body: RegisterBody): Promise<Session | VerificationSent> {
    const res = await rawRequest<AuthResult | VerificationSent>('/auth/register', { method: 'POST', body, fetchImpl: this.fetchImpl });
    if ('verification' in res) return res;
    return this.accept(res);
  }

  /** Finishes a registration from the mailed link: the account is created and logged in. */
  async verifyEmail(token: string): Promise<Session> {
    return this.accept(await rawRequest<AuthResult>('/auth/verify-email', { method: 'POST', body: { token }, fetchImpl: this.fetchImpl }));
  }

  /** Ends the session. `reason` is shown on the login page; pass none when the user logged out on purpose. */
  logout(reason?: string, tellServer = true) {
    const s = this.session;
    this.logoutReason = reason ?? null;
    if (!s) {
      this.emit();
      return;
    }
    if (tellServer) {
      rawRequest('/auth/logout', { method: 'POST', body: { refreshToken: s.refreshToken }, fetchImpl: this.fetchImpl }).catch(
        () => undefined,
      );
    }
    this.setSession(null);
  }

  onUnauthorized = (_e: ApiError) => {
    this.logout(SESSION_EXPIRED_MESSAGE, false);
  };

  // --- tokens -----------------------------------------------------------------------------------------------

  private expiresAt(s: Session): number {
    const t = Date.parse(s.accessTokenExpiresAt);
    return Number.isNaN(t) ? s.receivedAt + 10 * 60_000 : t;
  }

  /** Whether the access token should be refreshed before use. */
  isExpiring(s: Session | null = this.session): boolean {
    if (!s) return false;
    const now = this.now();
    if (now - s.receivedAt < MIN_REFRESH_INTERVAL_MS) return false;
    return now >= this.expiresAt(s) - EXPIRY_SKEW_MS;
  }

  async getAccessToken(): Promise<string | null> {
    const s = this.session;
    if (!s) return null;
    if (this.inflight) return this.inflight;
    if (this.isExpiring(s)) return this.refresh(s.accessToken);
    return s.accessToken;
  }

  /**
   * Single-flight refresh. Concurrent callers get the same promise. When `failedToken` is given and a newer access
   * token is already in hand (someone refreshed in the meantime), that one is returned without another request.
   */
  refresh(failedToken?: string): Promise<string> {
    if (this.inflight) return this.inflight;
    const s = this.session;
    if (!s) return Promise.reject(new ApiError(401, 'unauthorized', 'You are not logged in.'));
    if (failedToken !== undefined && failedToken !== s.accessToken) return Promise.resolve(s.accessToken);
    const p = this.lock(LOCK_NAME, () => this.doRefresh(s)).finally(() => {
      if (this.inflight === p) this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  private async doRefresh(started: Session): Promise<string> {
    // Another tab may have rotated the tokens while we waited for the lock: use its result instead of spending
    // a refresh token that is no longer current.
    const stored = this.load();
    if (!stored) {
      if (this.session) this.setSession(null);
      throw new ApiError(401, 'unauthorized', 'You are not logged in.');
    }
    if (stored.refreshToken !== started.refreshToken) {
      this.session = stored;
      this.schedule();
      this.emit();
      return stored.accessToken;
    }
    try {
      const res = await rawRequest<AuthResult>('/auth/refresh', {
        method: 'POST',
        body: { refreshToken: stored.refreshToken },
        fetchImpl: this.fetchImpl,
      });
      return this.accept(res).accessToken;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        this.logout(SESSION_EXPIRED_MESSAGE, false);
      }
      throw e;
    }
  }

  private schedule() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.session;
    if (!s || !this.autoRefresh) return;
    const due = Math.max(this.expiresAt(s) - EXPIRY_SKEW_MS, s.receivedAt + MIN_REFRESH_INTERVAL_MS);
    const delay = Math.min(Math.max(due - this.now(), 1000), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.session === s) this.refresh().catch(() => this.retryLater());
    }, delay);
  }

  private retryLater() {
    if (!this.session || !this.autoRefresh || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.session && this.isExpiring()) this.refresh().catch(() => this.retryLater());
    }, 15_000);
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }
}

export function userLabel(u: Pick<Me, 'displayName' | 'username'> | null | undefined): string {
  if (!u) return 'Unknown user';
  return cleanName(u.displayName ?? '').trim() || u.username;
}
