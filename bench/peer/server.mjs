// The benchmark peer: a minimal Node.js Socket.IO server with Parley's message contract, in memory, no databases.
//
//   node bench/peer/server.mjs [--host 127.0.0.1] [--port 0]
//
// It prints one JSON line {"listening": "<host>:<port>", "pid": <pid>} on stdout when ready, and exits on SIGTERM.
//
// Contract (the same events and ack shapes as the Go server, docs/API.md):
//   handshake  auth {token, channelId?, userId?, serverId?}: any non-empty token is accepted (no verification).
//              The socket joins user:<userId|token>, session:<token>, server:<serverId|"0"> and, if given,
//              channel:<channelId> (the Go server joins user, session, server and channel rooms too). The load
//              generator gives each socket the ids of its room, so any number of rooms of any size works (the
//              fan-out's 1 room of 2,000 and 20 rooms of 100), each channel in a server of its own, as on Parley.
//   c→s join            {channelId}                  ack {ok:true}: joins channel:<channelId>
//   c→s message:send    {channelId, content, nonce}  ack {ok:true, message} | {ok:false, error}
//   s→c message:new     Message, to every socket in channel:<channelId> (the sender's included)
//   s→c message:sent    Message, to the sending socket
// What it does NOT do (unlike the Go server): no token verification, no membership check, no persistence (nothing
// is written anywhere; a message is acknowledged as soon as it is announced), no rate limits, no history.
import { createServer } from "node:http";
import { Server } from "socket.io";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const host = opt("host", "127.0.0.1");
const port = Number(opt("port", "0"));

const http = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404);
  res.end();
});

// Defaults as in the Go server: pingInterval 25 s, pingTimeout 20 s; 64 KiB packets; no compression
// (the Go server sets a PerMessageDeflate threshold that keeps it off for chat-sized packets).
const io = new Server(http, {
  maxHttpBufferSize: 64 * 1024,
  perMessageDeflate: false,
  connectTimeout: 5000,
  serveClient: false,
});

// Ids: time-ordered decimal strings like the Go server's (millis since epoch << 22 | sequence).
let lastMs = 0n;
let seq = 0n;
function nextId() {
  let ms = BigInt(Date.now());
  if (ms <= lastMs) {
    ms = lastMs;
    seq += 1n;
  } else {
    lastMs = ms;
    seq = 0n;
  }
  return ((ms << 22n) | seq).toString();
}

// Nonce de-duplication per sender, bounded (the Go server remembers nonces too).
const nonces = new Map();
const NONCE_MEMORY = 200_000;

const isId = (s) => typeof s === "string" && /^[1-9][0-9]{0,18}$/.test(s);
const fail = (code, message) => ({ ok: false, error: { code, message, retryable: false } });

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (typeof auth.token !== "string" || auth.token === "") {
    const err = new Error("unauthorized");
    err.data = { reason: "missing token" };
    next(err);
    return;
  }
  next();
});

io.on("connection", (socket) => {
  const auth = socket.handshake.auth;
  const userId = isId(auth.userId) ? auth.userId : auth.token;
  socket.data.userId = userId;
  const rooms = [`user:${userId}`, `session:${auth.token}`, `server:${isId(auth.serverId) ? auth.serverId : "0"}`];
  if (isId(auth.channelId)) rooms.push(`channel:${auth.channelId}`);
  socket.join(rooms);

  socket.on("join", (p, ack) => {
    if (typeof ack !== "function") return;
    if (!p || !isId(p.channelId)) return ack(fail("invalid_input", "channelId must be an id"));
    socket.join(`channel:${p.channelId}`);
    ack({ ok: true });
  });

  socket.on("message:send", (p, ack) => {
    if (typeof ack !== "function") ack = () => {};
    if (!p || typeof p !== "object") return ack(fail("invalid_input", "payload must be a JSON object"));
    if (!isId(p.channelId)) return ack(fail("invalid_input", "channelId must be an id"));
    if (typeof p.content !== "string" || p.content.trim() === "" || p.content.length > 4000) {
      return ack(fail("invalid_input", "content must be 1-4000 characters"));
    }
    if (typeof p.nonce !== "string" || p.nonce === "" || p.nonce.length > 64) {
      return ack(fail("invalid_input", "nonce must be 1-64 characters"));
    }
    const key = `${userId}\u0000${p.nonce}`;
    const seen = nonces.get(key);
    if (seen) return ack({ ok: true, message: seen });
    const id = nextId();
    const message = {
      id,
      channelId: p.channelId,
      senderId: userId,
      content: p.content,
      timestamp: new Date().toISOString(),
      nonce: p.nonce,
    };
    nonces.set(key, message);
    if (nonces.size > NONCE_MEMORY) nonces.delete(nonces.keys().next().value);
    io.to(`channel:${p.channelId}`).emit("message:new", message);
    socket.emit("message:sent", message);
    ack({ ok: true, message });
  });
});

http.listen(port, host, () => {
  const a = http.address();
  process.stdout.write(JSON.stringify({ listening: `${a.address}:${a.port}`, pid: process.pid }) + "\n");
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    http.close();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
