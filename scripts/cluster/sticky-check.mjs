// Sticky sessions through the balancer (scripts/cluster.sh check): N socket.io clients on HTTP long-polling only,
// with a cookie jar (the SRV cookie HAProxy sets), must all connect and still be connected after HOLD_MS — past
// Engine.IO's 25 s ping, so each session has made many requests, every one of which must reach the node that holds
// the session. Without stickiness they fail at once with "Session ID unknown" (try NO_COOKIES=1).
// Usage: node scripts/cluster/sticky-check.mjs URL   (env: N=20, HOLD_MS=30000, TRANSPORTS=polling, NO_COOKIES)
// Resolves socket.io-client from tests/jsclient (scripts/deps.sh jsclient installs it).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("../../tests/jsclient/", import.meta.url)));
const { io } = require("socket.io-client");

const url = process.argv[2] || "http://127.0.0.1:8090";
const n = Number(process.env.N || 20);
const holdMs = Number(process.env.HOLD_MS || 30000);
const transports = (process.env.TRANSPORTS || "polling").split(",");

const name = "sticky" + Date.now().toString(36);
const reg = await fetch(url + "/api/auth/register", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ username: name, email: `${name}@example.com`, password: "correct horse battery staple" }),
});
if (!reg.ok) {
  console.error(`register through ${url}: HTTP ${reg.status} ${await reg.text()}`);
  process.exit(1);
}
const { accessToken } = await reg.json();

const errors = [];
const disconnects = [];
const sockets = [];
const t0 = Date.now();
await Promise.all(
  Array.from({ length: n }, () => new Promise((resolve) => {
    const s = io(url, {
      transports,
      withCredentials: !process.env.NO_COOKIES, // in Node.js: engine.io-client keeps a cookie jar
      auth: { token: accessToken },
      reconnection: false,
      forceNew: true,
      timeout: 10000,
    });
    sockets.push(s);
    s.on("connect", resolve);
    s.on("connect_error", (e) => { errors.push(e.message); resolve(); });
    s.on("disconnect", (reason) => disconnects.push(reason));
  })),
);
const connected = sockets.filter((s) => s.connected).length;
console.log(`sticky: ${connected}/${n} ${transports.join("+")} clients connected in ${Date.now() - t0} ms` +
  (errors.length ? `; ${errors.length} connect errors, e.g. ${JSON.stringify(errors[0])}` : ""));
await new Promise((r) => setTimeout(r, holdMs));
const still = sockets.filter((s) => s.connected).length;
console.log(`sticky: ${still}/${n} still connected after ${holdMs} ms` +
  (disconnects.length ? `; ${disconnects.length} disconnects, e.g. ${JSON.stringify(disconnects[0])}` : ""));
sockets.forEach((s) => s.close());
process.exit(still === n ? 0 : 1);
