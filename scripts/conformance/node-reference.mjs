// Node.js reference server for the official compliance suites (shared/conformance), used to validate
// scripts/conformance.sh before our Go server exists, and as the behaviour to compare against.
// One HTTP server, one port, two protocol endpoints, configured as the suites' upstream READMEs say:
//   /engine.io/  plain Engine.IO server; every message is sent back unchanged (text and binary)
//   /socket.io/  Socket.IO server; namespaces "/" and "/custom" emit "auth" with the handshake's auth payload,
//                "message" -> emit "message-back" with the same arguments, "message-with-ack" -> ack them
// Usage: node node-reference.mjs [-addr HOST:PORT]   (default 127.0.0.1:3000; same flag as cmd/conformance)
import http from "node:http";
import { Server as EngineServer } from "engine.io";
import { Server as SocketServer } from "socket.io";

let addr = "127.0.0.1:3000";
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if ((args[i] === "-addr" || args[i] === "--addr") && i + 1 < args.length) addr = args[++i];
  else if (args[i].startsWith("-addr=") || args[i].startsWith("--addr=")) addr = args[i].split("=")[1];
  else {
    console.error(`unknown argument: ${args[i]}\nusage: node node-reference.mjs [-addr HOST:PORT]`);
    process.exit(2);
  }
}
const sep = addr.lastIndexOf(":");
const host = addr.slice(0, sep) || "127.0.0.1";
const port = Number(addr.slice(sep + 1));

// Both suites' expectations (see shared/conformance/README.md).
const common = {
  pingInterval: 300,
  pingTimeout: 200,
  maxPayload: 1e6,
  cors: { origin: "*" },
  // Two servers share one http.Server: neither may destroy an upgrade request that belongs to the other.
  destroyUpgrade: false,
};

const httpServer = http.createServer();

// Engine.IO: attach() routes requests under its path and passes the others on to the listeners it displaced.
const engine = new EngineServer(common);
engine.attach(httpServer, { path: "/engine.io/", destroyUpgrade: false });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

const io = new SocketServer(httpServer, { ...common, path: "/socket.io/", connectTimeout: 1000, serveClient: false });
io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});
io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

httpServer.listen(port, host, () => {
  console.log(`node reference conformance server on http://${host}:${port} (/engine.io/, /socket.io/)`);
});

const stop = () => {
  io.close();
  engine.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
