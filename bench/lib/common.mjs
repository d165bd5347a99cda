// Shared helpers of the load generator: argument parsing, latency samples, /proc readings, a small JSON HTTP
// client (with a chosen loopback source address), user/channel setup on both servers, socket connections.
import http from "node:http";
import net from "node:net";
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { performance, monitorEventLoopDelay } from "node:perf_hooks";
import { io } from "socket.io-client";

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------- arguments

export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      out[a.slice(2)] = argv[++i];
    } else {
      out[a.slice(2)] = "true";
    }
  }
  return out;
}

export const num = (v, def) => (v === undefined || v === "" ? def : Number(v));
export const list = (v, def) => (v === undefined || v === "" ? def : String(v).split(",").map(Number).filter((x) => x > 0));

// ------------------------------------------------------------------------------------------------------ samples

/** Samples collects numbers (latencies in ms) in growing typed arrays and summarises them. */
export class Samples {
  constructor(cap = 1024) {
    this.a = new Float64Array(cap);
    this.n = 0;
  }
  push(x) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  summary() {
    if (this.n === 0) return { n: 0, p50: null, p95: null, p99: null, max: null, mean: null };
    const s = this.a.slice(0, this.n).sort();
    const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += s[i];
    return { n: this.n, p50: r2(q(0.5)), p95: r2(q(0.95)), p99: r2(q(0.99)), max: r2(s[s.length - 1]), mean: r2(sum / s.length) };
  }
}

export const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x : Math.round(x * 100) / 100);
export const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x : Math.round(x * 10) / 10);

// ---------------------------------------------------------------------------------------------------- processes

let clkTck = 100;
try {
  // CLK_TCK is 100 on every Linux this runs on; run.sh passes the real value to be sure.
  if (process.env.BENCH_CLK_TCK) clkTck = Number(process.env.BENCH_CLK_TCK) || 100;
} catch {}

/** statCpu returns [utime+stime, cutime+cstime, ppid] of a process in seconds (from /proc/<pid>/stat), or null. */
function statCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return [(Number(f[11]) + Number(f[12])) / clkTck, (Number(f[13]) + Number(f[14])) / clkTck, Number(f[1])];
  } catch {
    return null;
  }
}

/** procRead returns a process's CPU seconds (user+system) and memory (MB), or null if it is gone. */
export function procRead(pid) {
  if (!pid) return null;
  try {
    const c = statCpu(pid);
    if (!c) return null;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => {
      const m = status.match(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, "m"));
      return m ? Number(m[1]) : null;
    };
    return { cpu: c[0], rssMB: kb("VmRSS") / 1024, hwmMB: kb("VmHWM") / 1024, threads: Number((status.match(/^Threads:\s+(\d+)/m) || [])[1]) };
  } catch {
    return null;
  }
}

/**
 * treeCpu returns the CPU seconds of a process and its direct children (live ones from their own stat, exited
 * ones through the parent's cutime+cstime): a PostgreSQL postmaster and its backends. Null if the root is gone.
 */
export function treeCpu(root) {
  const r = statCpu(root);
  if (!r) return null;
  let cpu = r[0] + r[1];
  let pids = [];
  try {
    pids = readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d));
  } catch {}
  for (const d of pids) {
    const c = statCpu(d);
    if (c && c[2] === root) cpu += c[0];
  }
  return cpu;
}

// The load generator's own processes: this one and the child processes it forks (the connections scenario's
// workers). Their CPU is read from /proc like the servers': utime+stime of this process, cutime+cstime of the
// children that have exited (Node reaps them before their "exit" event), and utime+stime of the live ones.
const loadChildren = new Set();
export const trackChild = (pid) => loadChildren.add(pid);
export const untrackChild = (pid) => loadChildren.delete(pid);
export function loadgenCpu() {
  const self = statCpu(process.pid);
  if (!self) return null;
  let cpu = self[0] + self[1];
  for (const pid of loadChildren) {
    const c = statCpu(pid);
    if (c) cpu += c[0];
  }
  return cpu;
}

/**
 * Monitor samples the watched processes every 200 ms: CPU used and peak RSS in a phase. `pids` maps a name to
 * a pid (server, cassandra, mongo: FerretDB) or to {tree: pid} (postgres: the postmaster and its backends, CPU
 * only). The load generator's own CPU (this process and its workers, from /proc) and event-loop delay are always
 * reported.
 */
export class Monitor {
  constructor(pids) {
    this.pids = pids;
    this.peak = {};
    this.start = {};
    this.timer = null;
    this.el = monitorEventLoopDelay({ resolution: 10 });
  }
  read(k) {
    const p = this.pids[k];
    if (p && typeof p === "object") {
      const cpu = treeCpu(p.tree);
      return cpu === null ? null : { cpu, rssMB: null };
    }
    return procRead(p);
  }
  begin() {
    this.t0 = now();
    this.lg0 = loadgenCpu();
    for (const k of Object.keys(this.pids)) {
      const s = this.read(k);
      this.start[k] = s;
      this.peak[k] = s ? s.rssMB : null;
    }
    this.el.reset();
    this.el.enable();
    this.timer = setInterval(() => this.sample(), 200);
    return this;
  }
  sample() {
    for (const [k, pid] of Object.entries(this.pids)) {
      if (typeof pid === "object") continue;
      const s = procRead(pid);
      if (s && (this.peak[k] === null || s.rssMB > this.peak[k])) this.peak[k] = s.rssMB;
    }
  }
  end() {
    clearInterval(this.timer);
    this.sample();
    this.el.disable();
    const out = { seconds: r2((now() - this.t0) / 1000) };
    for (const k of Object.keys(this.pids)) {
      const s = this.read(k);
      const s0 = this.start[k];
      if (!s || !s0) out[k] = null;
      else if (s.rssMB === null) out[k] = { cpuS: r2(s.cpu - s0.cpu) };
      else out[k] = { cpuS: r2(s.cpu - s0.cpu), rssStartMB: r1(s0.rssMB), rssEndMB: r1(s.rssMB), peakRssMB: r1(this.peak[k]) };
    }
    // Several server nodes (node1, node2, ...: the cluster scenario): "server" is their sum (CPU, RSS; the peak
    // is the sum of each node's own peak), so every figure computed from the server's CPU covers all nodes.
    const nodes = Object.keys(this.pids).filter((k) => /^node[0-9]+$/.test(k));
    if (nodes.length && !this.pids.server) {
      const sum = (f) => (nodes.every((k) => out[k]) ? nodes.reduce((a, k) => a + f(out[k]), 0) : null);
      const cpuS = sum((x) => x.cpuS);
      out.server = cpuS === null ? null : { cpuS: r2(cpuS), rssStartMB: r1(sum((x) => x.rssStartMB)), rssEndMB: r1(sum((x) => x.rssEndMB)), peakRssMB: r1(sum((x) => x.peakRssMB)), nodes: nodes.length };
    }
    const lg = loadgenCpu();
    out.loadgen = {
      cpuS: lg !== null && this.lg0 !== null ? r2(lg - this.lg0) : null,
      processes: 1 + loadChildren.size,
      eventLoopDelayP99Ms: r2(this.el.percentile(99) / 1e6),
      eventLoopDelayMaxMs: r2(this.el.max / 1e6),
    };
    return out;
  }
}

// --------------------------------------------------------------------------------------------------------- HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** request sends a JSON request; resolves {status, body, headers}. Bounded by a 30 s timeout. */
export function request(base, method, path, { token, body, localAddress, timeoutMs = 30000 } = {}) {
  const url = new URL(path, base);
  const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
  const headers = { accept: "application/json" };
  if (data) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(data.length);
  }
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent, localAddress, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {}
          resolve({ status: res.statusCode, body: json, text, headers: res.headers });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

export async function api(base, method, path, opts = {}, expect = [200, 201, 204]) {
  const res = await request(base, method, path, opts);
  if (!expect.includes(res.status)) {
    throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  }
  return res.body;
}

/** pool runs fn over items with at most `limit` running at once. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

// ------------------------------------------------------------------------------------------- loopback addresses

/**
 * Source addresses 127.A.B.C for registrations: the server allows 10 registrations per client address at once
 * (then one per 30 s), so each address registers at most 9 users. A is chosen per target and run so that
 * repeated runs within the limiter's memory do not collide; a 429 moves on to the next address.
 */
export class AddressPool {
  constructor(firstOctet2, perAddress = 9) {
    this.o2 = firstOctet2;
    this.n = Math.floor(Math.random() * 200) * 256 + 1; // random start in 127.o2.x.1
    this.used = 0;
    this.per = perAddress;
  }
  current() {
    const k = this.n;
    return `127.${this.o2}.${(k >> 8) & 255}.${(k & 255) || 1}`;
  }
  take() {
    if (this.used >= this.per) this.advance();
    this.used++;
    return this.current();
  }
  advance() {
    this.n = (this.n + 1) % 65536;
    if ((this.n & 255) === 0) this.n++;
    this.used = 0;
  }
}

// ----------------------------------------------------------------------------------------------------- the world

/**
 * setupWorld creates `users` users spread over `channels` channels (user i in channel i % channels) and returns
 * {users: [{i, token, userId, channelId, memberIndex}], channels: [{id, members: [userIndex...]}]}.
 * For Parley: real users through REST (register → server per channel → invite → join); with `worldFile`, a world
 * of the same size saved there by an earlier run is reused, and a new one is saved there. For the peer: made-up
 * ids (the peer accepts any token and joins the server and channel rooms named in the handshake).
 */
export async function setupWorld(ctx, nUsers, nChannels, log, worldFile) {
  if (worldFile && ctx.target !== "peer" && existsSync(worldFile)) {
    // The same users and channels in the same databases, made by an earlier scenario run of this benchmark run
    // (tokens live for PARLEY_ACCESS_TOKEN_TTL, 3 h in bench/run.sh). A fresh server process treats them like
    // users who have not connected yet: presence lives in each process's memory.
    const w = JSON.parse(readFileSync(worldFile, "utf8"));
    if (w.users.length === nUsers && w.channels.length === nChannels) {
      log(`reusing ${nUsers} users in ${nChannels} channels from ${worldFile}`);
      return w;
    }
    log(`${worldFile} holds another world (${w.users.length} users, ${w.channels.length} channels): making a new one`);
  }
  const users = [];
  const channels = [];
  for (let c = 0; c < nChannels; c++) channels.push({ id: null, members: [] });
  for (let i = 0; i < nUsers; i++) {
    const c = i % nChannels;
    users.push({ i, token: null, userId: null, channel: c, channelId: null, memberIndex: channels[c].members.length });
    channels[c].members.push(i);
  }
  if (ctx.target === "peer") {
    // One made-up server per channel, as for Parley (each channel is the only channel of its own server).
    for (let c = 0; c < nChannels; c++) {
      channels[c].id = String(2_000_000_000 + ctx.runSeq * 100_000 + c);
      channels[c].serverId = String(3_000_000_000 + ctx.runSeq * 100_000 + c);
    }
    for (const u of users) {
      u.userId = String(1_000_000_000 + ctx.runSeq * 100_000 + u.i);
      u.token = `peer-${ctx.tag}-${u.i}`;
      u.channelId = channels[u.channel].id;
      u.serverId = channels[u.channel].serverId;
    }
    return { users, channels };
  }

  const t0 = now();
  const addrs = new AddressPool(ctx.addrOctet);
  let done = 0;
  await pool(users, 8, async (u) => {
    const username = `b${ctx.tag}_${u.i}`;
    for (let attempt = 0; ; attempt++) {
      const localAddress = addrs.take();
      const res = await request(ctx.url, "POST", "/api/auth/register", {
        body: { username, email: `${username}@bench.test`, password: "bench-password-1" },
        localAddress,
      });
      if (res.status === 201) {
        u.token = res.body.accessToken;
        u.userId = res.body.user.id;
        break;
      }
      if (res.status === 429 && attempt < 30) {
        addrs.advance();
        continue;
      }
      throw new Error(`register ${username}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    }
    if (++done % 500 === 0) log(`registered ${done}/${users.length} users`);
  });
  log(`registered ${users.length} users in ${((now() - t0) / 1000).toFixed(1)} s`);

  const t1 = now();
  await pool(channels, 8, async (ch, c) => {
    const owner = users[ch.members[0]];
    const srv = await api(ctx.url, "POST", "/api/servers", { token: owner.token, body: { name: `bench ${ctx.tag} ${c}` } });
    const list = await api(ctx.url, "GET", `/api/servers/${srv.id}/channels`, { token: owner.token });
    ch.id = list.channels[0].id;
    ch.serverId = srv.id;
    const inv = await api(ctx.url, "POST", `/api/servers/${srv.id}/invites`, { token: owner.token, body: {} });
    ch.invite = inv.code;
  });
  const joiners = users.filter((u) => channels[u.channel].members[0] !== u.i);
  let joined = 0;
  await pool(joiners, 16, async (u) => {
    await api(ctx.url, "POST", `/api/invites/${channels[u.channel].invite}/join`, { token: u.token });
    if (++joined % 1000 === 0) log(`joined ${joined}/${joiners.length}`);
  });
  for (const u of users) u.channelId = channels[u.channel].id;
  log(`created ${channels.length} servers/channels and ${joiners.length} memberships in ${((now() - t1) / 1000).toFixed(1)} s`);
  if (worldFile) writeFileSync(worldFile, JSON.stringify({ users, channels: channels.map(({ id, serverId, members }) => ({ id, serverId, members })) }));
  return { users, channels };
}

/** handshake auth for a user on a target. */
export function authFor(ctx, u) {
  return ctx.target === "peer" ? { token: u.token, userId: u.userId, channelId: u.channelId, serverId: u.serverId } : { token: u.token };
}

/** connectSocket opens one websocket-only Socket.IO connection; resolves the socket once connected. */
export function connectSocket(url, auth, { localAddress, timeoutMs = 20000, onSocket } = {}) {
  return new Promise((resolve, reject) => {
    const s = io(url, {
      transports: ["websocket"],
      auth,
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      localAddress,
    });
    // Listeners that must see every event from the first one on (those sent while later sockets still connect).
    if (onSocket) onSocket(s);
    let settled = false;
    const fail = (err, retryable) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.close();
      err.retryable = retryable;
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error("connect timed out"), true), timeoutMs + 1000);
    // The engine closing before the Socket.IO CONNECT is answered: with reconnection off the client would wait
    // forever. (Seen with the Go server: its CONNECT answer is occasionally lost and it closes the transport after
    // its 5 s connect timeout; see the notes on the connect race.) A real client reconnects; so do we, counted.
    const onClose = (reason) => fail(new Error(`closed before CONNECT was answered (${reason})`), true);
    s.io.on("close", onClose);
    s.once("connect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.io.off("close", onClose);
      resolve(s);
    });
    s.once("connect_error", (err) => fail(new Error(`connect_error: ${err.message}`), false));
  });
}

/**
 * connectRetry connects, retrying (up to `attempts` times) the failures a real client's reconnection would
 * absorb; `retries` (an object reason → count) records each retry so the report can show them.
 */
export async function connectRetry(url, auth, opts, retries, attempts = 3) {
  for (let a = 1; ; a++) {
    try {
      return await connectSocket(url, auth, opts);
    } catch (err) {
      if (!err.retryable || a >= attempts) throw err;
      const k = err.message.slice(0, 80);
      retries[k] = (retries[k] || 0) + 1;
    }
  }
}

/** connectAll connects one socket per auth with bounded concurrency (to url, or to urls[i]); fails on the first error. */
export async function connectAll(url, auths, { concurrency = 50, log, localAddresses, retries = {}, onSocket, urls } = {}) {
  const t0 = now();
  let done = 0;
  const socks = await pool(auths, concurrency, async (auth, i) => {
    const localAddress = localAddresses ? localAddresses[i % localAddresses.length] : undefined;
    // urls[i]: socket i's own server (the cluster scenario places each user on a chosen node).
    const s = await connectRetry(urls ? urls[i] : url, auth, { localAddress, onSocket: onSocket && ((sock) => onSocket(sock, i)) }, retries);
    if (++done % 2000 === 0 && log) log(`connected ${done}/${auths.length}`);
    return s;
  });
  const nr = Object.values(retries).reduce((a, b) => a + b, 0);
  if (log) log(`connected ${socks.length} sockets in ${((now() - t0) / 1000).toFixed(1)} s${nr ? `; ${nr} connects retried ${JSON.stringify(retries)}` : ""}`);
  return socks;
}

/**
 * countEvents returns an onSocket hook (see connectAll) that counts every event but message:new by name from the
 * socket's first event on, and the presence entries inside presence:update (1) and presence:batch (updates[]);
 * st.online collects the users whose "online" presence some socket received. Used in load.mjs and in the
 * chat's worker processes (bench/lib/chat-worker.mjs).
 */
export function countEvents(st) {
  const seen = (p) => {
    if (p && p.status === "online" && p.userId) st.online.add(p.userId);
  };
  return (s) =>
    s.onAny((event, payload) => {
      if (event === "message:new") return;
      st.other[event] = (st.other[event] || 0) + 1;
      if (event === "presence:update") {
        st.presenceEntries++;
        seen(payload);
      } else if (event === "presence:batch" && payload && Array.isArray(payload.updates)) {
        st.presenceEntries += payload.updates.length;
        payload.updates.forEach(seen);
      }
      st.lastOther = now();
    });
}

// -------------------------------------------------------------------------------------------------------- Redis

/**
 * redisGet reads keys from a Redis server (a redis://host:port/db URL) with plain GETs over one connection (the
 * cluster scenario reads channel leases, `<prefix>:lease:<channelId>`); resolves an array of strings or nulls.
 */
export function redisGet(redisUrl, keys, timeoutMs = 10_000) {
  const u = new URL(redisUrl);
  const db = Number((u.pathname || "/0").slice(1) || 0);
  const cmd = (...a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join("");
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const timer = setTimeout(() => sock.destroy(new Error("redis: timed out")), timeoutMs);
    let buf = Buffer.alloc(0);
    const out = [];
    sock.on("connect", () => {
      let req = "";
      if (u.password) req += cmd("AUTH", decodeURIComponent(u.password));
      if (db) req += cmd("SELECT", db);
      for (const k of keys) req += cmd("GET", k);
      sock.write(req);
    });
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      // Replies: +OK / -ERR (AUTH, SELECT), $-1 (no key), $<n>\r\n<bytes>\r\n.
      for (;;) {
        const nl = buf.indexOf("\r\n");
        if (nl < 0) break;
        const head = buf.toString("latin1", 0, nl);
        if (head[0] === "-") return finish(new Error(`redis: ${head}`));
        if (head[0] === "+") {
          buf = buf.subarray(nl + 2);
          continue; // AUTH / SELECT
        }
        if (head[0] !== "$") return finish(new Error(`redis: unexpected reply ${head.slice(0, 40)}`));
        const n = Number(head.slice(1));
        if (n < 0) {
          out.push(null);
          buf = buf.subarray(nl + 2);
        } else {
          if (buf.length < nl + 2 + n + 2) break;
          out.push(buf.toString("utf8", nl + 2, nl + 2 + n));
          buf = buf.subarray(nl + 2 + n + 2);
        }
        if (out.length === keys.length) return finish(null);
      }
    });
    sock.on("error", (err) => finish(err));
    let settled = false;
    function finish(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(out);
    }
  });
}
