// The one Socket.IO connection. Same origin, path /socket.io/, the access token in the handshake `auth`, fetched
// fresh (refreshed if about to expire) on every (re)connect. `connect_error` "token_expired" refreshes then
// reconnects; "unauthorized" logs out; `session:revoked` logs out with the server's reason.
import { io, type Socket } from 'socket.io-client';
import { SESSION_EXPIRED_MESSAGE, type AuthManager } from './auth';
import { isApiError } from './http';
import type { ClientToServerEvents, ServerToClientEvents } from './types';
import { readStatusHint } from '../chat/status';

export type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** connecting: first attempt; connected; reconnecting: lost, trying again; offline: stopped (logged out). */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export type SocketFactory = (opts: { auth: (cb: (data: object) => void) => void }) => ParleySocket;

export const defaultSocketFactory: SocketFactory = ({ auth }) =>
  io({
    path: '/socket.io/',
    autoConnect: false,
    forceNew: true,
    auth,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
  }) as ParleySocket;

type Listener = () => void;

export class SocketManager {
  readonly socket: ParleySocket;
  private status: ConnectionStatus = 'offline';
  private listeners = new Set<Listener>();
  private connectHandlers = new Set<(first: boolean) => void>();
  private lastToken: string | null = null;
  /** The presence the socket starts with (the user's chosen status as this device last knew it). */
  private startStatus = () => readStatusHint(this.auth.getSession()?.user.id);
  private stopped = true;
  private connectedOnce = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped on every successful connect (lets loaders notice a connect that happened while they ran). */
  epoch = 0;

  constructor(
    private readonly auth: AuthManager,
    factory: SocketFactory = defaultSocketFactory,
  ) {
    this.socket = factory({
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
    const s = this.socket;
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
    return this.socket.connected;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    this.socket.connect();
  }

  stop() {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket.disconnect();
    this.setStatus('offline');
  }

  private reconnectNow() {
    if (this.stopped || this.socket.connected) return;
    this.socket.disconnect();
    this.socket.connect();
  }

  private retrySoon(ms: number) {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped && !this.socket.connected && this.auth.getSession()) this.reconnectNow();
    }, ms);
  }

  /** Forces a fresh connection (e.g. the browser came back online). */
  kick() {
    if (!this.stopped && !this.socket.connected) this.reconnectNow();
  }
}
