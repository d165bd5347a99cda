// Shared helpers of the load generator: argument parsing, latency samples, /proc readings, a small JSON HTTP
// client (with a chosen loopback source address), user/channel setup on both servers, socket connections.
import http from "node:http";
import { readFileSync } from "node:fs";
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

/** procRead returns a process's CPU seconds (user+system) and memory (MB), or null if it is gone. */
export function procRead(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpu = (Number(f[11]) + Number(f[12])) / clkTck;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => {
      const m = status.match(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, "m"));
      return m ? Number(m[1]) : null;
    };
    return { cpu, rssMB: kb("VmRSS") / 1024, hwmMB: kb("VmHWM") / 1024, threads: Number((status.match(/^Threads:\s+(\d+)/m) || [])[1]) };
  } catch {
    return null;
  }
}

/** Monitor samples the watched processes (and this one) every 200 ms: CPU used and peak RSS in a phase. */
export class Monitor {
  constructor(pids) {
    this.pids = pids; // {server, cassandra?}
    this.peak = {};
    this.start = {};
    this.timer = null;
    this.el = monitorEventLoopDelay({ resolution: 10 });
  }
  begin() {
    this.t0 = now();
    this.self0 = process.cpuUsage();
    for (const [k, pid] of Object.entries(this.pids)) {
      const s = procRead(pid);
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
      const s = procRead(pid);
      if (s && (this.peak[k] === null || s.rssMB > this.peak[k])) this.peak[k] = s.rssMB;
    }
  }
  end() {
    clearInterval(this.timer);
    this.sample();
    this.el.disable();
    const out = { seconds: r2((now() - this.t0) / 1000) };
    for (const [k, pid] of Object.entries(this.pids)) {
      const s = procRead(pid);
      const s0 = this.start[k];
      out[k] = s && s0 ? { cpuS: r2(s.cpu - s0.cpu), rssStartMB: r1(s0.rssMB), rssEndMB: r1(s.rssMB), peakRssMB: r1(this.peak[k]) } : null;
    }
    const u = process.cpuUsage(this.self0);
    out.loadgen = {
      cpuS: r2((u.user + u.system) / 1e6),
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
 * For Parley: real users through REST (register → server per channel → invite → join). For the peer: made-up
 * ids (the peer accepts any token and joins the channel room named in the handshake).
 */
export async function setupWorld(ctx, nUsers, nChannels, log) {
  const users = [];
  const channels = [];
  for (let c = 0; c < nChannels; c++) channels.push({ id: null, members: [] });
  for (let i = 0; i < nUsers; i++) {
    const c = i % nChannels;
    users.push({ i, token: null, userId: null, channel: c, channelId: null, memberIndex: channels[c].members.length });
    channels[c].members.push(i);
  }
  if (ctx.target === "peer") {
    for (let c = 0; c < nChannels; c++) channels[c].id = String(2_000_000_000 + ctx.runSeq * 100_000 + c);
    for (const u of users) {
      u.userId = String(1_000_000_000 + ctx.runSeq * 100_000 + u.i);
      u.token = `peer-${ctx.tag}-${u.i}`;
      u.channelId = channels[u.channel].id;
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
  return { users, channels };
}

/** handshake auth for a user on a target. */
export function authFor(ctx, u) {
  return ctx.target === "peer" ? { token: u.token, userId: u.userId, channelId: u.channelId } : { token: u.token };
}

/** connectSocket opens one websocket-only Socket.IO connection; resolves the socket once connected. */
export function connectSocket(url, auth, { localAddress, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = io(url, {
      transports: ["websocket"],
      auth,
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      localAddress,
    });
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

/** connectAll connects one socket per auth with bounded concurrency; fails on the first error. */
export async function connectAll(url, auths, { concurrency = 50, log, localAddresses, retries = {} } = {}) {
  const t0 = now();
  let done = 0;
  const socks = await pool(auths, concurrency, async (auth, i) => {
    const localAddress = localAddresses ? localAddresses[i % localAddresses.length] : undefined;
    const s = await connectRetry(url, auth, { localAddress }, retries);
    if (++done % 2000 === 0 && log) log(`connected ${done}/${auths.length}`);
    return s;
  });
  const nr = Object.values(retries).reduce((a, b) => a + b, 0);
  if (log) log(`connected ${socks.length} sockets in ${((now() - t0) / 1000).toFixed(1)} s${nr ? `; ${nr} connects retried ${JSON.stringify(retries)}` : ""}`);
  return socks;
}
