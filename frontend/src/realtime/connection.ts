// The socket's lifecycle (api/socket.ts) plus the two ways the stores talk over it. One per session, shared by the
// stores the coordinator (realtime.ts) wires.
import { SocketManager, type ParleySocket } from '../api/socket';
import type { ClientToServerEvents } from '../api/types';
import { SEND_TIMEOUT_MS } from '../chat/send';

export type FireEvent = 'typing:start' | 'typing:stop' | 'presence:set' | 'message:delivered';

export class Connection extends SocketManager {
  /** A fire-and-forget event, now or once the socket client has loaded (socket.io buffers it until connected). */
  send<E extends FireEvent>(event: E, payload: Parameters<ClientToServerEvents[E]>[0]) {
    this.withSocket((s) => (s.emit as (e: E, p: typeof payload) => void)(event, payload));
  }

  /**
   * A request with an ack: sent at once when the socket client has loaded, else once it has, failing like an
   * unanswered request if it has not within the send timeout.
   */
  request<T>(f: (s: ParleySocket) => Promise<T>): Promise<T> {
    const s = this.socket;
    return s ? f(s) : this.ready(SEND_TIMEOUT_MS).then(f);
  }
}
