// The one Socket.IO connection. Same origin, path /socket.io/, the access token in the handshake `auth`, fetched
// fresh (refreshed if about to expire) on every (re)connect. `connect_error` "token_expired" refreshes then
// reconnects; "unauthorized" logs out; `session:revoked` logs out with the server's reason.
import type { Socket } from 'socket.io-client';
import { SESSION_EXPIRED_MESSAGE, type AuthManager } from './auth';
import { isApiError } from './http';
import type { ClientToServerEvents, ServerToClientEvents } from './types';
import { readStatusHint } from '../chat/status';

export type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** connecting: first attempt; connected; reconnecting: lost, trying again; offline: stopped (logged out). */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** Returns the (not yet connected) socket, or a promise of it when the client library is loaded on demand. */
export type SocketFactory = (opts: { auth: (cb: (data: object) => void) => void }) => ParleySocket | Promise<ParleySocket>;

// socket.io-client (~14 KB gzip) is a chunk of its own: the chat screen draws its first paint from REST and the
// socket connects as soon as the chunk is here (issue #16: the chat screen's JavaScript budget).
export const defaultSocketFactory: SocketFactory = async ({ auth }) => {
  const { io } = await import('socket.io-client');
  return io({
    path: '/socket.io/',
    autoConnect: false,
    forceNew: true,
    auth,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
  }) as ParleySocket;
};

/** How long to wait before loading the socket client again after a failed download (offline at start). */
const LOAD_RETRY_MS = [1000, 3000, 10_000, 30_000];

type Listener = () => void;

export class SocketManager {
  /** null until the socket client has loaded (see defaultSocketFactory). */
  socket: ParleySocket | null = null;
  private waiting: ((s: ParleySocket) => void)[] = [];
  private status: ConnectionStatus = 'offline';
  private listeners = new Set<Listener>();
  private connectHandlers = new Set<(first: boolean) => void>();
  private lastToken: string | null = null;
  /** The presence the socket starts with (the user's chosen status as this device last knew it). */
  private startStatus = () => readStatusHint(this.auth.getSession()?.user.id);
  private stopped = true;
  private connectedOnce = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private loadFailures = 0;
  private loading = false;
  /** Bumped on every successful connect (lets loaders notice a connect that happened while they ran). */
  epoch = 0;

  constructor(
    private readonly auth: AuthManager,
    private readonly factory: SocketFactory = defaultSocketFactory,
  ) {
    this.load();
  }

  private load() {
    this.loading = true;
    const made = this.factory({
      auth: (cb) => {
        this.auth
          .getAccessToken()
          .then((token) => {
            this.lastToken = token;
            cb({ token: token ?? '', status: this.startStatus() });
          })
          .catch(() => {
            const token = this.auth.getSession()?.accessToken ?? '';
            this.lastToken = token;
            cb({ token, status: this.startStatus() });
          });
      },
    });
    if (!(made instanceof Promise)) return this.attach(made);
    made.then(
      (s) => this.attach(s),
      () => {
        // Offline when the page opened: try again later, slower each time, and at once when the browser is back
        // online (kick); the connection banner keeps saying "connecting" meanwhile.
        this.loading = false;
        const ms = LOAD_RETRY_MS[Math.min(this.loadFailures++, LOAD_RETRY_MS.length - 1)];
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          if (!this.stopped && !this.loading) this.load();
        }, ms);
      },
    );
  }

  /** Runs `f` with the socket now if the client has loaded, else as soon as it has (before it connects). */
  withSocket(f: (s: ParleySocket) => void) {
    if (this.socket) f(this.socket);
    else this.waiting.push(f);
  }

  /** The socket once the client has loaded; rejects after `timeoutMs` if it has not by then. */
  ready(timeoutMs: number): Promise<ParleySocket> {
    if (this.socket) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('not connected')), timeoutMs);
      this.withSocket((s) => {
        clearTimeout(t);
        resolve(s);
      });
    });
  }

  private attach(s: ParleySocket) {
    this.socket = s;
    this.loading = false;
    s.on('connect', () => {
      const first = !this.connectedOnce;
      this.connectedOnce = true;
      this.epoch++;
      this.setStatus('connected');
      for (const h of this.connectHandlers) h(first);
    });
    s.on('disconnect', (reason) => {
      if (this.stopped) return;
      this.setStatus('reconnecting');
      // The server closed us on purpose: socket.io will not retry by itself. A revoked session is logged out by
      // `session:revoked`; anything else (deploy, restart) is worth another try.
      if (reason === 'io server disconnect') this.retrySoon(1500);
    });
    s.on('connect_error', (err) => {
      if (this.stopped) return;
      const msg = err?.message ?? '';
      if (msg === 'token_expired') {
        this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
        this.auth
          .refresh(this.lastToken ?? undefined)
          .then(() => this.reconnectNow())
          .catch((e) => {
            if (!isApiError(e) || e.status !== 401) this.retrySoon(3000);
          });
        return;
      }
      if (msg === 'unauthorized') {
        this.auth.logout(SESSION_EXPIRED_MESSAGE, false);
        return;
      }
      this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
      // Middleware errors leave the socket inactive; transport errors keep socket.io's own retry loop going.
      if (!s.active) this.retrySoon(3000);
    });
    s.io.on('reconnect_attempt', () => {
      if (!this.stopped) this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    });
    s.on('session:revoked', (e) => {
      this.stop();
      this.auth.logout(e?.reason ? `You were signed out: ${e.reason}` : SESSION_EXPIRED_MESSAGE, false);
    });
    for (const f of this.waiting.splice(0)) f(s);
    if (!this.stopped) s.connect();
  }

  getStatus = (): ConnectionStatus => this.status;

  subscribe = (l: Listener) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  /** `first` is true for the first connect of this manager, false for reconnects. */
  onConnect(h: (first: boolean) => void): () => void {
    this.connectHandlers.add(h);
    return () => this.connectHandlers.delete(h);
  }

  private setStatus(s: ConnectionStatus) {
    if (s === this.status) return;
    this.status = s;
    for (const l of this.listeners) l();
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    if (this.socket) this.socket.connect();
    else if (!this.loading && !this.retryTimer) this.load();
  }

  stop() {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket?.disconnect();
    this.setStatus('offline');
  }

  private reconnectNow() {
    if (this.stopped || !this.socket || this.socket.connected) return;
    this.socket.disconnect();
    this.socket.connect();
  }

  private retrySoon(ms: number) {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped && !this.connected && this.auth.getSession()) this.reconnectNow();
    }, ms);
  }

  /** Forces a fresh connection (e.g. the browser came back online). */
  kick() {
    if (!this.socket && !this.loading && !this.stopped) {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.load();
      return;
    }
    if (!this.stopped && !this.connected) this.reconnectNow();
  }
}
