// A bridge that lets Go tests drive real socket.io-client v4 connections.
// Input (stdin): one JSON command per line. Output (stdout): one JSON line per reply or event.
//   {"op":"connect","cid":"a","url":"http://127.0.0.1:8080","auth":{"token":"..."},"transports":["websocket"],"extraHeaders":{...}}
//   {"op":"emit","cid":"a","req":7,"event":"message:send","args":[{...}],"ack":true,"timeoutMs":10000}
//   {"op":"disconnect","cid":"a"} | {"op":"reconnect","cid":"a"} | {"op":"exit"}
// Replies: {"type":"connected","cid","id","transport"} {"type":"connect_error","cid","message","data"}
//          {"type":"ack","cid","req","args"} {"type":"event","cid","event","args"} {"type":"disconnected","cid","reason"}
import { io } from "socket.io-client";
import readline from "node:readline";

const sockets = new Map();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function connect(cmd) {
  const opts = {
    auth: cmd.auth || {},
    transports: cmd.transports || ["websocket"],
    reconnection: cmd.reconnection !== false,
    reconnectionDelay: cmd.reconnectionDelay ?? 100,
    reconnectionDelayMax: 500,
    timeout: 10000,
    forceNew: true,
  };
  if (cmd.extraHeaders) opts.extraHeaders = cmd.extraHeaders;
  const s = io(cmd.url, opts);
  sockets.set(cmd.cid, s);
  s.on("connect", () => out({ type: "connected", cid: cmd.cid, id: s.id, transport: s.io.engine.transport.name }));
  s.io.engine?.on?.("upgrade", (t) => out({ type: "upgrade", cid: cmd.cid, transport: t.name }));
  s.on("connect_error", (err) => out({ type: "connect_error", cid: cmd.cid, message: err.message, data: err.data ?? null }));
  s.on("disconnect", (reason) => out({ type: "disconnected", cid: cmd.cid, reason }));
  s.onAny((event, ...args) => out({ type: "event", cid: cmd.cid, event, args }));
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return out({ type: "error", message: "bad command" });
  }
  const s = sockets.get(cmd.cid);
  switch (cmd.op) {
    case "connect":
      connect(cmd);
      break;
    case "emit":
      if (!s) return out({ type: "error", req: cmd.req, message: "no such client" });
      if (cmd.ack) {
        s.timeout(cmd.timeoutMs ?? 10000).emit(cmd.event, ...(cmd.args || []), (err, ...args) => {
          if (err) out({ type: "ack", cid: cmd.cid, req: cmd.req, timeout: true, args: [] });
          else out({ type: "ack", cid: cmd.cid, req: cmd.req, args });
        });
      } else {
        s.emit(cmd.event, ...(cmd.args || []));
      }
      break;
    case "disconnect":
      s?.disconnect();
      break;
    case "reconnect":
      s?.connect();
      break;
    case "exit":
      for (const x of sockets.values()) x.disconnect();
      process.exit(0);
  }
});
rl.on("close", () => process.exit(0));
