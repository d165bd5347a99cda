// A stand-in for the Socket.IO client socket, for unit tests only.
import type { ParleySocket, SocketFactory } from '../api/socket';

type Handler = (...args: unknown[]) => void;

export interface Emitted {
  event: string;
  payload: unknown;
}

export class FakeSocket {
  connected = false;
  active = false;
  handlers = new Map<string, Handler[]>();
  ioHandlers = new Map<string, Handler[]>();
  emitted: Emitted[] = [];
  /** Answers for emitWithAck, by event. A function gets the payload. */
  ackers = new Map<string, (payload: unknown) => unknown | Promise<unknown>>();
  authFn: ((cb: (d: object) => void) => void) | null = null;
  lastAuth: object | null = null;
  connectCalls = 0;

  io = {
    on: (ev: string, h: Handler) => {
      this.ioHandlers.set(ev, [...(this.ioHandlers.get(ev) ?? []), h]);
    },
  };

  on(ev: string, h: Handler) {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), h]);
    return this;
  }

  /** Deliver a server event. */
  fire(ev: string, ...args: unknown[]) {
    for (const h of this.handlers.get(ev) ?? []) h(...args);
  }

  emit(event: string, payload?: unknown) {
    this.emitted.push({ event, payload });
    return this;
  }

  timeout(_ms: number) {
    return {
      emitWithAck: async (event: string, payload: unknown) => {
        this.emitted.push({ event, payload });
        const acker = this.ackers.get(event);
        if (!acker) throw new Error('operation has timed out');
        return acker(payload);
      },
    };
  }

  connect() {
    this.connectCalls++;
    this.active = true;
    this.authFn?.((d) => {
      this.lastAuth = d;
    });
    return this;
  }

  disconnect() {
    const was = this.connected;
    this.connected = false;
    this.active = false;
    if (was) this.fire('disconnect', 'io client disconnect');
    return this;
  }

  /** Simulate a successful (re)connect. */
  serverConnect() {
    this.connected = true;
    this.fire('connect');
  }

  /** Simulate losing the connection. */
  drop() {
    this.connected = false;
    this.fire('disconnect', 'transport close');
  }

  sent(event: string) {
    return this.emitted.filter((e) => e.event === event).map((e) => e.payload);
  }
}

export function fakeSocketFactory(sock: FakeSocket): SocketFactory {
  return ({ auth }) => {
    sock.authFn = auth;
    return sock as unknown as ParleySocket;
  };
}
