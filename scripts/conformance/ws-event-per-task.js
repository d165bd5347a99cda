
// --- appended by scripts/conformance.sh to the copy of node-imports.js (the suite's own files are unchanged) ---
// The suites wait for each frame with `await waitFor(socket, "message")` (a once-listener) and register the next
// listener in the continuation. A browser dispatches every WebSocket event as its own task, so that continuation
// always runs before the next frame is delivered. The `ws` 8.5.0 client pinned by the suites' lockfiles does not:
// it emits every frame of one TCP read synchronously, so when two server frames arrive in one read (the CONNECT
// reply and the "auth" event, say, on a busy machine) the second is delivered to no listener and lost, and the test
// fails or times out whatever the server did. (`ws` itself later changed this, in 8.14, for WHATWG compatibility.)
// This restores the browser's guarantee where `ws` breaks it, and changes nothing else: an event is delivered at
// once (exactly when raw `ws` would) unless another "open"/"message"/"close" event of the same socket was already
// delivered in this turn of the event loop; then it waits in a queue, and the queue delivers one event per
// macrotask (setImmediate; Node runs all microtasks between two of them). Nothing is dropped that raw `ws` would
// have delivered to a listener, nothing is reordered or added, so a server passes only with exactly the frames the
// suite expects. Turn it off with CONFORMANCE_RAW_WS=1 to run the suite exactly as shipped.
{
  const RawWebSocket = globalThis.WebSocket;
  const ordered = new Set(["open", "message", "close"]);
  class BrowserLikeWebSocket extends RawWebSocket {
    #queue = [];
    #busy = false; // an ordered event was delivered in this turn; the next ones wait for a later macrotask

    emit(type, ...args) {
      if (!ordered.has(type)) return super.emit(type, ...args);
      if (this.#busy) {
        this.#queue.push([type, args]);
        return true;
      }
      this.#busy = true;
      setImmediate(() => this.#drain());
      return super.emit(type, ...args);
    }

    #drain() {
      const next = this.#queue.shift();
      if (!next) {
        this.#busy = false;
        return;
      }
      setImmediate(() => this.#drain());
      super.emit(next[0], ...next[1]);
    }
  }
  globalThis.WebSocket = BrowserLikeWebSocket;
}
