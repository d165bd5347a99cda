// Messages across nodes through the balancer (scripts/cluster.sh check): alice's socket is pinned to node 1 and
// bob's two sockets to nodes 2 and 3 (by HAProxy's SRV cookie). Alice sends COUNT messages to a channel; every one
// must be acked and reach both of bob's sockets, in ack id order. Prints the send->deliver latency.
// (HAProxy ignores the cookie of a node it has marked down and picks another.)
// Usage: node scripts/cluster/crossnode-check.mjs URL [NODES]   (env: COUNT=20)
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";

const require = createRequire(fileURLToPath(new URL("../../tests/jsclient/", import.meta.url)));
const { io } = require("socket.io-client");

const url = process.argv[2] || "http://127.0.0.1:8090";
const nodes = Number(process.argv[3] || 3);
const count = Number(process.env.COUNT || 20);
const fail = (msg) => { console.error(`crossnode: FAIL: ${msg}`); process.exit(1); };

async function api(method, path, token, body) {
  const res = await fetch(url + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function register(prefix) {
  const name = prefix + Date.now().toString(36) + Math.floor(Math.random() * 1e4);
  const r = await api("POST", "/api/auth/register", null, { username: name, email: `${name}@example.com`, password: "correct horse battery staple" });
  return r.accessToken;
}

function connect(token, node) {
  return new Promise((resolve) => {
    const s = io(url, {
      transports: ["websocket"],
      auth: { token },
      extraHeaders: { cookie: `SRV=node${node}` }, // HAProxy sends the handshake to that node
      reconnection: false,
      forceNew: true,
      timeout: 10000,
    });
    s.on("connect", () => resolve(s));
    s.on("connect_error", (e) => fail(`connect to node ${node}: ${e.message}`));
  });
}

const alice = await register("alice");
const bob = await register("bob");
const server = await api("POST", "/api/servers", alice, { name: "cross-node check" });
const { channels } = await api("GET", `/api/servers/${server.id}/channels`, alice);
const channelId = channels[0].id;
const invite = await api("POST", `/api/servers/${server.id}/invites`, alice, {});
await api("POST", `/api/invites/${invite.code}/join`, bob);

const nodeOf = (i) => ((i - 1) % nodes) + 1;
const sender = await connect(alice, 1);
const receivers = [];
for (const node of [nodeOf(2), nodeOf(3)]) {
  const s = await connect(bob, node);
  const got = [];
  s.on("message:new", (m) => { if (m.channelId === channelId) got.push({ id: m.id, at: performance.now() }); });
  receivers.push({ node, s, got });
}

const sentAt = new Map();
const ackIds = [];
for (let i = 0; i < count; i++) {
  const t = performance.now();
  const ack = await sender.timeout(10000).emitWithAck("message:send", { channelId, content: `cross-node ${i}`, nonce: randomUUID() });
  if (!ack?.ok) fail(`message ${i}: ack ${JSON.stringify(ack)}`);
  sentAt.set(ack.message.id, t);
  ackIds.push(ack.message.id);
}
const deadline = Date.now() + 10000;
while (receivers.some((r) => r.got.length < count) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

let ok = true;
for (const r of receivers) {
  const ids = r.got.map((g) => g.id);
  const lat = r.got.map((g) => g.at - sentAt.get(g.id)).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const p50 = lat.length ? lat[Math.floor(lat.length / 2)].toFixed(1) : "-";
  const inOrder = JSON.stringify(ids) === JSON.stringify(ackIds);
  console.log(`crossnode: sent from a socket with cookie SRV=node1, received on one with SRV=node${r.node}: ${ids.length}/${count} message:new, ${inOrder ? "in ack order" : "NOT in ack order"}, send->deliver p50 ${p50} ms`);
  ok &&= inOrder;
}
[sender, ...receivers.map((r) => r.s)].forEach((s) => s.close());
process.exit(ok ? 0 : 1);
