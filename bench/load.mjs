#!/usr/bin/env node
// The load generator of `make bench`: one scenario against one server per run, results as JSON.
//
//   node bench/load.mjs --scenario chat --target ours --url http://127.0.0.1:PORT --pid PID \
//        [--cassandra-pid PID] [--mongo-pid PID] [--out result.json] [--smoke] [scenario flags]
//
// Scenarios and their flags (defaults in brackets):
//   connections  --conns N [1000] --users U [10] --hold S [60] --per-worker [4000] --concurrency [50]
//                N idle authenticated websocket connections (U users share them): server CPU per connect (what
//                a connect includes is written into the result), server RSS per connection (after connecting and
//                at the end of the hold), and server-side drops while the sockets are held idle for S seconds
//                (disconnects the client did not ask for, e.g. missed heartbeats; the ping interval is 25 s).
//   chat         --users U [1000] --channels C [100] --rates R1,R2,.. [500,1000,2000,3000,4000,6000,8000]
//                --duration T [20] --size BYTES [64] --procs P [1] [--all-steps]
//                U users in C channels (user i in channel i % C) send at a total of R msg/s for T s, one step per
//                rate, until a step saturates (refusals, loss, rate < 90 % of the target, or p99 > 1 s).
//                --procs P > 1: the sockets (still the official socket.io-client) live in P worker processes
//                (bench/lib/chat-worker.mjs); this process paces, accounts and checks; per step every process's
//                CPU share and event-loop lag are reported (bench/run.sh uses 4).
//   fanout       --members K [2000] --rooms G [1] --rates R1,.. [10] --duration T [10] --size BYTES [64]
//                [--variant NAME --repeat N] (labels for the report)
//                K members in G rooms (channels) of K/G; one sender per room sends R msg/s (G×R msg/s in all, so
//                K×R deliveries/s offered); deliveries/s, send→deliver latency, deliveries per server CPU-second.
//   presence     --members K [2000] --concurrency C [100] --tail S [5]                     (Parley only)
//                K members of one server connect at once (C handshakes in flight); counts the presence:update and
//                presence:batch events every client receives, and the presence entries inside them, while they
//                connect, during the S seconds after the last connect, and after that until every member was
//                announced online and 2 s (1 s in smoke runs) pass without one, or 30 s pass without one.
//   throughput   --users U [400] --channels C [200] --rates R1,R2,.. [2000,5000,10000,15000] --duration T [15]
//                --size BYTES [64] --procs P [2] [--all-steps]                                   (Parley only)
//                Write throughput: U users in C channels (few receivers per message) send at a total of R msg/s
//                for T s per step through P worker processes with a lean client (bench/lib/tp-worker.mjs: `ws`
//                and the protocol by hand, not socket.io-client). An ack comes only after Cassandra stored the
//                message, so acks/s = persisted msg/s. Per step: send→ack percentiles, refusals by code, server,
//                Cassandra, FerretDB and load generator CPU (per process, with event-loop lag). Stops after the
//                first saturated step (acked < 95 % of offered, or ack p99 > 1 s). Then every channel's history
//                is checked against the acks (each acknowledged message stored exactly once).
//   history      --messages M [400] --reads N [500] --concurrency [1]
//                GET the newest page of 50 of a hot channel (memory) and an older page (Cassandra).
//   cluster      --urls URL1,URL2,.. --pid PID1,PID2,.. (node k+1 at URLk) --redis-url URL --redis-prefix P
//                [--redis-pid PID] [--node-ids 1,2,..] --mode latency|throughput --variant V (Parley only)
//                Issue #14: one node or several nodes of one cluster (bench/run.sh starts them). latency: --users U
//                [200] --channels C [20] --rates R1,.. [200,500] --duration T [20] with the official client, the
//                variant placing the sockets: single (one URL), spread (round-robin), local (each on its channel's
//                owner), gateway (all on one node, only channels the others own send); throughput: the throughput
//                scenario's flags, sockets round-robin. Each channel's owner is read from its Redis lease after a
//                warm-up message; every node's CPU is reported apart and summed as the server's.
// Common: --world FILE (Parley: reuse the users and channels saved there by an earlier run with the same
// sizes, or save the new ones there), --postgres-pid PID (the postmaster: PostgreSQL's CPU next to the server's).
// BENCH_SAMPLES=FILE (environment; bench/run.sh passes it on, the last scenario run keeps the file): chat and
// fan-out write every send→deliver sample there as "step send-time-ms(epoch) latency-ms"; bench/stalls.py shows
// when the slow ones happened (issue #13: a database write burst every 5 s was found this way).
// The load generator's own CPU (utime+stime of its processes, from /proc) is reported for every phase and step.
// Every step checks that each acknowledged message reached every member exactly once, and (for Parley) that
// the channel history holds each acknowledged message exactly once. Exit status: 0 functionally correct,
// 1 a functional failure (loss, duplicates, errors; timing never fails a run), 2 the run itself broke.
import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
import {
  Monitor, Samples, api, authFor, connectAll, countEvents, list, now, num, parseArgs, pool, procRead, r1, r2, redisGet, request,
  setupWorld, sleep, trackChild, untrackChild,
} from "./lib/common.mjs";

const args = parseArgs(process.argv.slice(2));
const scenario = args.scenario;
const target = args.target || "ours";
const smoke = args.smoke === "true";
const T0 = now();
const label = `${scenario}${args.variant ? ":" + args.variant : ""}/${target}${args.repeat ? " r" + args.repeat : ""}`;
const log = (msg) => process.stderr.write(`  [${label} ${((now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);

if (!args.url || !["connections", "chat", "fanout", "presence", "throughput", "history", "cluster"].includes(scenario)) {
  process.stderr.write("usage: node bench/load.mjs --scenario connections|chat|fanout|presence|throughput|history|cluster --target ours|peer --url URL --pid PID [...]\n");
  process.exit(2);
}

const tag = (args.tag || Math.random().toString(36).slice(2, 8)).replace(/[^a-z0-9]/gi, "").slice(0, 10);
// The cluster scenario: --urls URL1,URL2,... (node k+1 at URLk; --url is the first) and --pid PID1,PID2,...
const urls = String(args.urls || args.url).split(",").filter(Boolean).map((u) => u.replace(/\/$/, ""));
const ctx = {
  url: urls[0],
  urls,
  target,
  smoke,
  tag: `${tag}${scenario[0]}`,
  runSeq: Math.floor(Math.random() * 9000),
  // Source addresses: 127.11-60.x.x for Parley, 127.61-110.x.x for the peer (chosen at random per run).
  addrOctet: (target === "peer" ? 61 : 11) + Math.floor(Math.random() * 50),
};
const pidList = String(args.pid || "0").split(",").map(Number);
// One server: "server". Several nodes: node1, node2, ... (Monitor adds their sum as "server").
const pids = pidList.length > 1 ? Object.fromEntries(pidList.map((p, i) => [`node${i + 1}`, p])) : { server: pidList[0] };
if (args["cassandra-pid"] && target === "ours") pids.cassandra = num(args["cassandra-pid"], 0);
// FerretDB, the MongoDB stand-in: its own CPU (the PostgreSQL backends it uses count under postgres).
if (args["mongo-pid"] && target === "ours") pids.mongo = num(args["mongo-pid"], 0);
if (args["postgres-pid"] && target === "ours") pids.postgres = { tree: num(args["postgres-pid"], 0) };
if (args["redis-pid"] && target === "ours") pids.redis = num(args["redis-pid"], 0); // the cluster scenario: the bus and leases
const worldFile = args.world || null;

const result = {
  scenario, variant: args.variant || null, repeat: num(args.repeat, 1), target, smoke, startedAt: new Date().toISOString(),
  params: {}, pass: true, failures: [], notes: [],
};
const failure = (msg) => {
  result.pass = false;
  result.failures.push(msg);
  log(`FAIL: ${msg}`);
};

// ------------------------------------------------------------------------------------------------- connections

// What one connect costs the server, in words, for the report (figure 3 of issue #12).
const CONNECT_INCLUDES = {
  ours: "TCP accept, WebSocket upgrade, Engine.IO open and Socket.IO CONNECT, plus Parley's own work: JWT " +
    "verification and a session check (PostgreSQL), loading the user's readable channels and servers " +
    "(PostgreSQL), joining the user, session, server and channel rooms (4 rooms here), registering the socket's " +
    "event handlers and presence (announced only for a user's first socket). PostgreSQL's own CPU is not in it " +
    "(shown apart).",
  peer: "TCP accept, WebSocket upgrade, Engine.IO open and Socket.IO CONNECT; a middleware that accepts any " +
    "non-empty token without verifying it; joining the user, session, server and channel rooms named in the " +
    "handshake (4 rooms). No database, no presence.",
};

async function connections() {
  const N = num(args.conns, 1000);
  const U = Math.max(1, Math.min(N, num(args.users, 10)));
  const hold = num(args.hold, 60);
  const perWorker = num(args["per-worker"], 4000);
  const concurrency = num(args.concurrency, 50);
  Object.assign(result.params, { conns: N, users: U, holdS: hold, perWorker, concurrency });

  const world = await setupWorld(ctx, U, 1, log);
  const auths = world.users.map((u) => authFor(ctx, u));
  await sleep(smoke ? 500 : 2000);
  const before = procRead(pids.server);
  if (!before) throw new Error(`server pid ${pids.server} not readable`);
  const mon = new Monitor(pids).begin();
  const monConnect = new Monitor(pids).begin();

  const W = Math.max(1, Math.ceil(N / perWorker));
  const base = Math.floor(Math.random() * 200);
  const workers = [];
  const state = [];
  const t0 = now();
  for (let w = 0; w < W; w++) {
    const count = Math.floor(N / W) + (w < N % W ? 1 : 0);
    const child = fork(new URL("./lib/conn-worker.mjs", import.meta.url), [], {
      execArgv: ["--max-old-space-size=4096"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    trackChild(child.pid);
    state[w] = { connected: 0, failed: 0, done: false, report: null, closed: false };
    child.on("message", (m) => {
      const st = state[w];
      if (m.type === "progress") Object.assign(st, { connected: m.connected, failed: m.failed });
      else if (m.type === "connected") Object.assign(st, { connected: m.connected, failed: m.failed, done: true, errors: m.errors, retries: m.retries });
      else if (m.type === "report") st.report = m;
      else if (m.type === "closed") st.closed = true;
      else if (m.type === "error") {
        st.done = true;
        st.error = m.message;
      }
    });
    child.on("exit", () => {
      untrackChild(child.pid); // reaped: its CPU is now in this process's cutime+cstime
      state[w].exited = true;
      state[w].done = true;
    });
    const localAddresses = [1, 2].map((j) => `127.${ctx.addrOctet}.${(base + w) % 250 + 1}.${j}`);
    // Socket i of the scenario uses user i % U (a user's token is shared by its sockets).
    const myAuths = [];
    for (let k = 0; k < count; k++) myAuths.push(auths[(w + k * W) % U]);
    child.send({ cmd: "connect", url: ctx.url, auths: myAuths, localAddresses, concurrency: Math.max(1, Math.ceil(concurrency / W)) });
    workers.push(child);
  }
  const total = () => state.reduce((a, s) => a + s.connected, 0);
  const failedN = () => state.reduce((a, s) => a + s.failed, 0);
  const deadline = now() + Math.max(120_000, N * 20); // bounded: 2 min, or 20 ms a connection
  let lastLog = 0;
  while (!state.every((s) => s.done) && now() < deadline) {
    await sleep(250);
    if (now() - lastLog > 3000) {
      lastLog = now();
      log(`connected ${total()}/${N} (failed ${failedN()})`);
    }
  }
  const mConnect = monConnect.end();
  const connectS = (now() - t0) / 1000;
  const connected = total();
  const failed = failedN();
  const errors = {};
  for (const s of state) for (const [k, v] of Object.entries(s.errors || {})) errors[k] = (errors[k] || 0) + v;
  const retries = {};
  for (const s of state) for (const [k, v] of Object.entries(s.retries || {})) retries[k] = (retries[k] || 0) + v;
  const nRetries = Object.values(retries).reduce((a, b) => a + b, 0);
  log(`connected ${connected}/${N} in ${connectS.toFixed(1)} s; failed ${failed}${failed ? " " + JSON.stringify(errors) : ""}; retried ${nRetries}${nRetries ? " " + JSON.stringify(retries) : ""}`);
  const cpuConnect = mConnect.server ? mConnect.server.cpuS : null;

  // Reports from every live worker (bounded wait): open sockets, disconnects so far and why, pings seen.
  const collect = async (waitMs) => {
    for (let w = 0; w < workers.length; w++) {
      if (state[w].exited) continue;
      state[w].report = null;
      workers[w].send({ cmd: "report" });
    }
    const until = now() + waitMs;
    while (!state.every((s) => s.report || s.exited) && now() < until) await sleep(100);
    const reports = state.map((s) => s.report).filter(Boolean);
    const reasons = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] || 0) + v;
    return {
      reports,
      open: reports.reduce((a, r) => a + r.open, 0),
      disconnects: reports.reduce((a, r) => a + r.disconnects, 0),
      reasons,
      pingsMin: reports.length ? Math.min(...reports.map((r) => r.pingsMin)) : 0,
    };
  };

  await sleep(smoke ? 1000 : 3000);
  const afterConnect = procRead(pids.server);
  const monHold = new Monitor(pids).begin();
  const tHold = now();
  const timeline = [];
  log(`holding ${connected} idle connections for ${hold} s (server RSS ${afterConnect.rssMB.toFixed(0)} MB, was ${before.rssMB.toFixed(0)} MB)`);
  let nextCheck = 30_000;
  while (now() - tHold < hold * 1000) {
    const left = hold * 1000 - (now() - tHold);
    await sleep(Math.min(left + 10, Math.max(10, nextCheck - (now() - tHold))));
    if (now() - tHold >= nextCheck && now() - tHold < hold * 1000) {
      nextCheck += 30_000;
      const c = await collect(5000);
      timeline.push({ atS: Math.round((now() - tHold) / 1000), open: c.open, drops: c.disconnects });
      log(`held ${((now() - tHold) / 1000).toFixed(0)} s: ${c.open} open, server-side drops so far ${c.disconnects}${c.disconnects ? " " + JSON.stringify(c.reasons) : ""}, ` +
        `pings per socket >= ${c.pingsMin}; server RSS ${procRead(pids.server).rssMB.toFixed(0)} MB`);
    }
  }
  const holdEnd = procRead(pids.server);
  const mHold = monHold.end();
  const fin = await collect(15_000);
  const { reports, open, disconnects, reasons, pingsMin } = fin;
  timeline.push({ atS: hold, open, drops: disconnects });
  const clientMemMB = reports.reduce((a, r) => a + r.memMB, 0);
  const ages = reports.flatMap((r) => r.ages || []).sort((a, b) => a - b);

  for (const w of workers) if (w.connected) w.send({ cmd: "close" });
  const cdeadline = now() + 30_000;
  while (!state.every((s) => s.exited) && now() < cdeadline) await sleep(100);
  for (const w of workers) if (!state[workers.indexOf(w)].exited) w.kill("SIGKILL");
  const m = mon.end();

  const perConnKB = connected ? ((afterConnect.rssMB - before.rssMB) * 1024) / connected : null;
  const perConnEndKB = connected ? ((holdEnd.rssMB - before.rssMB) * 1024) / connected : null;
  Object.assign(result, {
    connected, failed, connectErrors: errors, connectRetries: nRetries, connectRetryReasons: retries, connectS: r2(connectS), connectsPerS: r1(connected / connectS),
    serverCpuConnectS: r2(cpuConnect), cpuMsPerConnect: connected && cpuConnect !== null ? r2((cpuConnect * 1000) / connected) : null,
    connectIncludes: CONNECT_INCLUDES[target],
    postgresCpuConnectS: mConnect.postgres ? mConnect.postgres.cpuS : null,
    postgresCpuMsPerConnect: mConnect.postgres && connected ? r2((mConnect.postgres.cpuS * 1000) / connected) : null,
    loadgenCpuConnectS: mConnect.loadgen.cpuS,
    rssBeforeMB: r1(before.rssMB), rssConnectedMB: r1(afterConnect.rssMB), rssEndOfHoldMB: r1(holdEnd.rssMB),
    rssPerConnKB: r2(perConnKB), rssPerConnEndOfHoldKB: r2(perConnEndKB), holdS: hold, openAtEnd: open,
    // Every disconnect counted here is one the client did not ask for (it closes only after the final report).
    disconnectsDuringHold: disconnects, serverSideDrops: disconnects, disconnectReasons: reasons, dropsTimeline: timeline,
    disconnectAgesMs: ages,
    pingsPerSocketMin: pingsMin, heartbeatsObserved: pingsMin > 0, serverCpuHoldS: mHold.server ? mHold.server.cpuS : null,
    loadgenCpuHoldS: mHold.loadgen.cpuS, clientRssMB: r1(clientMemMB), monitorConnect: mConnect, monitorHold: mHold, monitor: m,
  });
  if (failed > 0) failure(`${failed} of ${N} connections failed: ${JSON.stringify(errors)}`);
  if (connected < N && failed === 0) failure(`only ${connected} of ${N} connections were made in time`);
  if (disconnects > 0 || open !== connected) failure(`${disconnects} server-side drops while idle (${JSON.stringify(reasons)}; ms after connecting: ${ages.join(", ")}), ${open}/${connected} open at the end`);
  if (hold >= 30 && pingsMin === 0) failure("no heartbeat (ping) reached a socket during the hold");
  log(`server CPU per connect ${result.cpuMsPerConnect} ms (load generator ${mConnect.loadgen.cpuS} s CPU while connecting); ` +
    `RSS per connection ${r2(perConnKB)} KB after connecting, ${r2(perConnEndKB)} KB at the end of the hold; ` +
    `server-side drops during ${hold} s hold: ${disconnects}; pings per socket >= ${pingsMin}`);
}

// ---------------------------------------------------------------------------------------- chat and fan-out steps

/**
 * deliver accounts one message:new received by user `ui` at time t (this process's now() scale): unknown nonce,
 * wrong channel, duplicate, late (an earlier step's message), else a send→deliver sample (not the sender's own
 * echo). A record whose send time is not known yet (the chat's workers report it with the ack) is kept in
 * st.pending until the step ends.
 */
const samplesFile = process.env.BENCH_SAMPLES;
const samples = []; // [step, send time (epoch ms), send→deliver ms] when samplesFile is set
if (samplesFile) process.on("exit", () => writeFileSync(samplesFile, samples.map((r) => r.join(" ")).join("\n") + "\n"));
/** sample records one send→deliver latency. */
function sample(st, t0, ms) {
  st.deliver.push(ms);
  if (samplesFile) samples.push([st.step, (performance.timeOrigin + t0).toFixed(1), ms.toFixed(2)]);
}
function deliver(world, st, ui, nonce, channelId, t) {
  const u = world.users[ui];
  const rec = st.recs.get(nonce);
  if (!rec) {
    st.unknown++;
    return;
  }
  if (channelId !== rec.channelId) {
    st.wrongChannel++;
    return;
  }
  if (rec.seen[u.memberIndex]) {
    st.dups++;
    return;
  }
  rec.seen[u.memberIndex] = 1;
  rec.nSeen++;
  st.deliveries++;
  if (t > st.lastDelivery) st.lastDelivery = t; // workers' batches may interleave out of time order
  if (rec.step !== st.step) st.late++;
  else if (ui !== rec.sender) {
    if (rec.t0 !== undefined) sample(st, rec.t0, t - rec.t0);
    else st.pending.push(rec, t);
  }
}

/** disconnected accounts a socket the server closed (the client closes its sockets only after the steps). */
function disconnected(world, st, ui, reason) {
  world.users[ui].down = true;
  st.disconnects++;
  st.disconnectReasons[reason] = (st.disconnectReasons[reason] || 0) + 1;
}

/** attach wires message:new on every socket to the records (other events are counted by countEvents). */
function attach(world, socks, st) {
  socks.forEach((s, i) => {
    s.on("message:new", (m) => deliver(world, st, i, m.nonce, m.channelId, now()));
    s.on("disconnect", (reason) => disconnected(world, st, i, reason));
  });
}

/**
 * quiet waits (bounded by maxS) until the connect-time announcements are over, so they do not overlap the
 * measured steps: no event other than message:new for 2 s (1 s in smoke runs), and, once any presence arrived,
 * every one of the `users` announced online (each user's own socket receives its own announcement). Parley
 * announces presence in batches and can fall far behind while thousands connect on a busy machine, with gaps of
 * more than 10 s between batches. A server that announces presence but not for everyone: 30 s without any event.
 * Returns the events counted meanwhile.
 */
const QUIET_MS = smoke ? 1000 : 2000;
async function quiet(st, maxS, users) {
  const t0 = now();
  const done = () => {
    const idle = now() - Math.max(st.lastOther, t0);
    const presence = st.presenceEntries > 0;
    return idle >= 30_000 || (idle >= QUIET_MS && (!presence || st.online.size >= users));
  };
  while (now() - t0 < maxS * 1000 && !done()) await sleep(100);
  const out = { ...st.other, presenceEntries: st.presenceEntries, onlineAnnounced: st.online.size, waitedS: r1((now() - t0) / 1000) };
  st.other = {};
  st.presenceEntries = 0;
  return out;
}

/**
 * runSteps sends at each rate for `duration` seconds (open loop, paced every 5 ms), waits for every ack and
 * delivery (bounded), and summarises the step. pickSender(n) gives the user index of the n-th message. A rate is
 * per sender group: `senders` groups (the fan-out's rooms) send R msg/s each, R×senders in all. With `link` (the
 * chat's worker processes, chatWorkers) the sockets live in the workers: each tick's sends go to them in one
 * message per worker, and acks, deliveries and events come back in batches; the accounting stays here.
 */
async function runSteps(world, socks, st, { rates, duration, size, pickSender, allSteps, senders = 1, link = null }) {
  const acked = new Map(); // channelId -> [{id, nonce}]
  const sentNonces = new Map(); // channelId -> Set(nonce) of every send (acked or not), for the history check
  const steps = [];
  const pad = "x".repeat(Math.max(0, size));
  const ackTimeoutMs = 30_000;
  const all = st.recs; // every record of every step: late deliveries still count at the end
  for (let k = 0; k < rates.length; k++) {
    const perGroup = rates[k];
    const R = perGroup * senders; // msg/s in all
    const total = Math.max(1, Math.round(R * duration));
    const recs = new Map();
    // Workers: what they received before this step began is accounted to the previous one (as in-process).
    if (link) await link.flush();
    Object.assign(st, { pending: [], step: k, disconnects: 0, disconnectReasons: {}, unknown: 0, wrongChannel: 0, dups: 0, late: 0, deliveries: 0, lastDelivery: 0, deliver: new Samples(total * 4), other: {} });
    const ackLat = new Samples(total);
    const errors = {};
    let acks = 0;
    let okAcks = 0;
    let timeouts = 0;
    log(`step ${k + 1}/${rates.length}: ${senders > 1 ? `${perGroup} msg/s in each of ${senders} rooms, ` : ""}${R} msg/s for ${duration} s (${total} messages)`);
    const mon = new Monitor(pids).begin();
    const mainCpu0 = process.cpuUsage();
    if (link) await link.mark();
    const start = now();
    let n = 0;
    let lastSend = start;
    // An ack, from the socket's callback here or from a worker's batch: status 1 ok, 2 refused, 3 timed out.
    const settle = (rec, r) => {
      acks++;
      if (r.status === 3) {
        timeouts++;
        rec.timedOut = true;
      } else if (r.status === 1) {
        okAcks++;
        rec.ok = true;
        rec.id = r.id;
        ackLat.push(r.ms);
        if (r.bad) errors.bad_ack = (errors.bad_ack || 0) + 1;
      } else {
        errors[r.code] = (errors[r.code] || 0) + 1;
        rec.failed = true;
      }
    };
    const sendOne = () => {
      const ui = pickSender(n);
      const u = world.users[ui];
      const nonce = `${ctx.tag}.${k}.${n}`;
      const ch = world.channels[u.channel];
      // With workers, t0 is the worker's emit time, set when its ack report comes back.
      const rec = { t0: link ? undefined : now(), step: k, ch: u.channel, sender: ui, channelId: u.channelId, seen: new Uint8Array(ch.members.length), nSeen: 0, ok: false, failed: false, timedOut: false, id: null, settle };
      recs.set(nonce, rec);
      all.set(nonce, rec);
      if (!sentNonces.has(u.channelId)) sentNonces.set(u.channelId, new Set());
      sentNonces.get(u.channelId).add(nonce);
      const content = `bench ${n} ${R} ${pad}`.slice(0, Math.max(size, 16)); // exactly `size` characters
      if (link) link.emit(ui, [ui, nonce, u.channelId, content]);
      else {
        socks[ui].timeout(ackTimeoutMs).emit("message:send", { channelId: u.channelId, content, nonce }, (err, res) => {
          if (err) return settle(rec, { status: 3 });
          if (res && res.ok) return settle(rec, { status: 1, id: res.message.id, ms: now() - rec.t0, bad: res.message.nonce !== nonce || res.message.channelId !== u.channelId });
          settle(rec, { status: 2, code: (res && res.error && res.error.code) || "malformed_ack" });
        });
      }
      n++;
      lastSend = now();
    };
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((now() - start) / 1000) * R) + 1);
        while (n < due) sendOne();
        if (link) link.sendDue(); // this tick's sends, one IPC message per worker
        if (n >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const sendS = (lastSend - start) / 1000;
    // Drain: every ack answered and every acknowledged message delivered to every member (bounded).
    const drainDeadline = now() + ackTimeoutMs + 5000;
    const complete = () => {
      if (acks < total) return false;
      for (const rec of recs.values()) {
        if (!rec.ok || rec.nSeen >= rec.seen.length) continue;
        const members = world.channels[rec.ch].members;
        for (let j = 0; j < rec.seen.length; j++) if (!rec.seen[j] && !world.users[members[j]].down) return false;
      }
      return true;
    };
    while (!complete() && now() < drainDeadline) await sleep(acks < total ? 20 : 100);
    const wstats = link ? await link.stats() : [];
    const mainCpu = process.cpuUsage(mainCpu0);
    const m = mon.end();
    // Deliveries that arrived before their send time did (workers): their samples now.
    let noSendTime = 0;
    for (let j = 0; j < st.pending.length; j += 2) {
      const rec = st.pending[j];
      if (rec.t0 !== undefined) sample(st, rec.t0, st.pending[j + 1] - rec.t0);
      else noSendTime++;
    }
    st.pending = [];
    // Per process: CPU (share of one core) and event-loop lag, i.e. the delay of a 10 ms sampling timer minus
    // those 10 ms (an idle loop shows about 0), as in the throughput scenario.
    const lag = (ms) => r2(Math.max(0, ms - 10));
    const procs = [{ proc: "main", cpuS: r2((mainCpu.user + mainCpu.system) / 1e6), cpuShare: r2((mainCpu.user + mainCpu.system) / 1e6 / m.seconds), eventLoopLagP99Ms: lag(m.loadgen.eventLoopDelayP99Ms), eventLoopLagMaxMs: lag(m.loadgen.eventLoopDelayMaxMs) }];
    wstats.forEach((r, w) => procs.push({ proc: `worker ${w}`, cpuS: r2(r.cpuS), cpuShare: r2(r.cpuS / r.seconds), eventLoopLagP99Ms: lag(r.elP99Ms), eventLoopLagMaxMs: lag(r.elMaxMs) }));

    // Missing at step end, among sockets still open (a socket the server closed is counted apart).
    let lost = 0;
    let lostMessages = 0;
    let toDown = 0;
    for (const rec of recs.values()) {
      if (!rec.ok || rec.nSeen >= rec.seen.length) continue;
      const members = world.channels[rec.ch].members;
      let miss = 0;
      for (let j = 0; j < rec.seen.length; j++) {
        if (rec.seen[j]) continue;
        if (world.users[members[j]].down) toDown++;
        else miss++;
      }
      lost += miss;
      if (miss) lostMessages++;
    }
    const expectedDeliveries = [...recs.values()].reduce((a, r) => a + (r.ok ? r.seen.length : 0), 0);
    const spanS = ((st.lastDelivery || now()) - start) / 1000;
    const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
    const step = {
      rate: senders > 1 ? perGroup : R, totalRate: R, senders, durationS: duration, sent: total, sendSeconds: r2(sendS), achievedRate: r1(total / Math.max(sendS, 1e-3)),
      acked: okAcks, errors, ackTimeouts: timeouts, ack: ackLat.summary(), deliver: st.deliver.summary(),
      deliveries: st.deliveries, expectedDeliveries, deliveriesPerS: r1(st.deliveries / Math.max(spanS, 1e-3)),
      undeliveredAtStepEnd: lost, messagesIncompleteAtStepEnd: lostMessages, missedByClosedSockets: toDown, duplicateDeliveries: st.dups, wrongChannel: st.wrongChannel,
      unknownDeliveries: st.unknown, lateFromEarlierSteps: st.late, otherEvents: st.other, disconnects: st.disconnects, monitor: m,
      loadgenProcesses: procs,
    };
    if (noSendTime) step.deliveriesWithoutSendTime = noSendTime; // a worker never reported the send (it died)
    const lagging = procs.filter((p) => p.eventLoopLagP99Ms > 50);
    step.loadgenBehind = lagging.length ? lagging.map((p) => `${p.proc} event-loop lag p99 ${p.eventLoopLagP99Ms} ms`).join("; ") : null;
    const cpu = m.server ? m.server.cpuS : null;
    step.serverCpuS = cpu;
    step.serverCpuUsPerDelivery = cpu !== null && st.deliveries ? r2((cpu * 1e6) / st.deliveries) : null;
    step.deliveriesPerCpuS = cpu ? Math.round(st.deliveries / cpu) : null;
    step.offeredDeliveriesPerS = Math.round([...recs.values()].reduce((a, r) => a + r.seen.length, 0) / duration);
    step.loadgenCpuS = m.loadgen.cpuS;
    if (m.cassandra) {
      step.cassandraCpuS = m.cassandra.cpuS;
      step.cassandraCpuUsPerMessage = okAcks ? r2((m.cassandra.cpuS * 1e6) / okAcks) : null;
    }
    if (m.mongo) step.mongoCpuS = m.mongo.cpuS;
    step.saturated = step.achievedRate < 0.9 * R || errorCount > 0 || timeouts > 0 || lost > 0 || st.late > 0 ||
      (step.deliver.p99 !== null && step.deliver.p99 > 1000);
    steps.push(step);
    log(`  ${R} msg/s: sent ${total} at ${step.achievedRate}/s, acked ${okAcks}, errors ${JSON.stringify(errors)}, timeouts ${timeouts}; ` +
      `ack p50/p99 ${step.ack.p50}/${step.ack.p99} ms; deliver p50/p99/max ${step.deliver.p50}/${step.deliver.p99}/${step.deliver.max} ms; ` +
      `${step.deliveries} deliveries (${step.deliveriesPerS}/s), undelivered at step end ${lost}, dup ${st.dups}; other events ${JSON.stringify(st.other)}; server CPU ${cpu} s` +
      (m.cassandra ? `, cassandra CPU ${m.cassandra.cpuS} s` : "") + (m.mongo ? `, mongo CPU ${m.mongo.cpuS} s` : "") + (cpu ? `; ${step.deliveriesPerCpuS} deliveries per server CPU-s` : "") +
      `; load generator CPU ${m.loadgen.cpuS} s (${procs.map((p) => `${p.proc} ${p.cpuS} s, event-loop lag p99 ${p.eventLoopLagP99Ms} ms`).join("; ")})`);

    // Functional checks: timing never fails a run (loss is judged at the end, when late deliveries had time to
    // arrive). Back-pressure refusals are how saturation shows, except in smoke mode, where the rates are far
    // below any limit and every refusal is a fault.
    if (st.dups > 0) failure(`${R} msg/s: ${st.dups} duplicate deliveries`);
    if (st.wrongChannel > 0) failure(`${R} msg/s: ${st.wrongChannel} deliveries carried the wrong channel`);
    // A socket the server drops while the step is overloaded (ping timeout behind a backlog) is a timing effect;
    // while the system keeps up it is a fault.
    if (st.disconnects > 0 && !step.saturated) failure(`${R} msg/s: ${st.disconnects} sockets disconnected ${JSON.stringify(st.disconnectReasons)}`);
    else if (st.disconnects > 0) result.notes.push(`${R} msg/s (overloaded): ${st.disconnects} sockets were disconnected ${JSON.stringify(st.disconnectReasons)}`);
    const unexpected = Object.entries(errors).filter(([c]) => smoke || !["unavailable", "rate_limited"].includes(c));
    if (unexpected.length) failure(`${R} msg/s: send errors ${JSON.stringify(Object.fromEntries(unexpected))}`);
    if (smoke && timeouts > 0) failure(`${R} msg/s: ${timeouts} sends were never acknowledged`);
    if (step.saturated && !allSteps && k < rates.length - 1) {
      log(`  saturated at ${R} msg/s: stopping here`);
      break;
    }
    await sleep(smoke ? 200 : 1000);
  }
  // Settle: give late deliveries (of overloaded steps) time to arrive, then judge loss once (bounded).
  const incomplete = () => {
    let n = 0;
    for (const r of all.values()) {
      if (!r.ok || r.nSeen >= r.seen.length) continue;
      const members = world.channels[r.ch].members;
      for (let j = 0; j < r.seen.length; j++) {
        if (!r.seen[j] && !world.users[members[j]].down) {
          n++;
          break;
        }
      }
    }
    return n;
  };
  const settleDeadline = now() + 30_000;
  if (link) await link.flush();
  while (incomplete() > 0 && now() < settleDeadline) await sleep(250);
  let lost = 0;
  let lostMessages = 0;
  let toDisconnected = 0;
  let announcedButRefused = 0;
  let announcedUnacked = 0;
  for (const [nonce, rec] of all) {
    if (rec.ok) {
      if (rec.nSeen < rec.seen.length) {
        const members = world.channels[rec.ch].members;
        let miss = 0;
        for (let j = 0; j < rec.seen.length; j++) {
          if (rec.seen[j]) continue;
          if (world.users[members[j]].down) toDisconnected++;
          else miss++;
        }
        lost += miss;
        if (miss) lostMessages++;
      }
      if (!acked.has(rec.channelId)) acked.set(rec.channelId, []);
      acked.get(rec.channelId).push({ id: rec.id, nonce });
    } else if (rec.nSeen > 0) {
      if (rec.failed) announcedButRefused++;
      else announcedUnacked++;
    }
  }
  const delivery = { lostDeliveries: lost, messagesWithLoss: lostMessages, missedByDisconnectedSockets: toDisconnected, announcedButRefused, announcedButAckTimedOut: announcedUnacked, duplicateDeliveries: steps.reduce((a, s) => a + s.duplicateDeliveries, 0) };
  log(`deliveries after settling: lost ${lost} (of ${lostMessages} acknowledged messages), missed by sockets the server had closed ${toDisconnected}, announced but refused ${announcedButRefused}, announced but ack timed out ${announcedUnacked}`);
  if (lost > 0) failure(`${lost} deliveries of ${lostMessages} acknowledged messages never arrived`);
  if (announcedButRefused > 0) failure(`${announcedButRefused} messages were announced although their send was refused`);
  return { steps, acked, sentNonces, delivery };
}

/** verifyHistory pages through each channel's history (Parley only) and compares it with what was acknowledged. */
async function verifyHistory(world, acked, sentNonces) {
  const t0 = now();
  let checked = 0;
  let missing = 0;
  let dupIds = 0;
  let dupNonces = 0;
  let unacked = 0;
  let pages = 0;
  await pool([...acked.keys()], 8, async (channelId) => {
    const ch = world.channels.find((c) => c.id === channelId);
    const token = world.users[ch.members[0]].token;
    const want = acked.get(channelId);
    const mine = sentNonces.get(channelId) || new Set();
    const ids = new Map();
    const nonces = new Map();
    let before = "";
    const maxPages = Math.ceil(mine.size / 100) + 5;
    for (let p = 0; p < maxPages; p++) {
      const page = await api(ctx.url, "GET", `/api/channels/${channelId}/messages?limit=100${before ? `&before=${before}` : ""}`, { token });
      pages++;
      for (const m of page.messages) {
        ids.set(m.id, (ids.get(m.id) || 0) + 1);
        if (mine.has(m.nonce)) nonces.set(m.nonce, (nonces.get(m.nonce) || 0) + 1);
      }
      if (!page.hasMore || page.messages.length === 0) break;
      before = page.messages[page.messages.length - 1].id;
    }
    for (const c of ids.values()) if (c > 1) dupIds += c - 1;
    for (const c of nonces.values()) if (c > 1) dupNonces += c - 1;
    const ackedNonces = new Set();
    for (const { id, nonce } of want) {
      checked++;
      ackedNonces.add(nonce);
      if (!ids.has(id)) missing++;
    }
    for (const nonce of nonces.keys()) if (!ackedNonces.has(nonce)) unacked++;
  });
  const h = { channels: acked.size, acknowledged: checked, missing, duplicateIds: dupIds, duplicateNonces: dupNonces, storedButNotAcknowledged: unacked, pages, seconds: r2((now() - t0) / 1000) };
  log(`history check: ${checked} acknowledged messages in ${acked.size} channels: missing ${missing}, duplicate ids ${dupIds}, duplicate nonces ${dupNonces}, stored but not acknowledged ${unacked} (${pages} pages)`);
  if (missing) failure(`history: ${missing} acknowledged messages are missing`);
  if (dupIds || dupNonces) failure(`history: ${dupIds} duplicate ids, ${dupNonces} duplicate nonces`);
  return h;
}

/**
 * chatWorkers starts P chat worker processes (bench/lib/chat-worker.mjs, the official socket.io-client) and
 * connects the world's users through them, worker w holding a contiguous block of users (so a channel's members,
 * users c, c+C, ..., sit in several processes and send→deliver is measured across processes). Returns the `link`
 * runSteps uses; their batches feed deliver(), the acks, the disconnects and the event counts of `st`.
 */
async function chatWorkers(P, world, st, localAddresses, concurrency) {
  const U = world.users.length;
  const owner = new Int32Array(U); // user index → worker
  const out = Array.from({ length: P }, () => []); // sends due this tick, per worker
  const base = performance.timeOrigin; // workers report absolute times; this process's now() = abs - base
  const onBatch = (m) => {
    if (m.type !== "batch") return;
    if (m.acks) {
      for (const [nonce, status, t0, ms, id, code, bad] of m.acks) {
        const rec = st.recs.get(nonce);
        if (!rec) continue;
        rec.t0 = t0 - base;
        rec.settle(rec, { status, id, ms, code, bad });
      }
    }
    if (m.dl) {
      const { nonces, chans, ui, t } = m.dl;
      for (let j = 0; j < nonces.length; j++) deliver(world, st, ui[j], nonces[j], chans[j], t[j] - base);
    }
    if (m.downs) for (const [ui, reason] of m.downs) disconnected(world, st, ui, reason);
    if (m.ev) {
      for (const [e, c] of Object.entries(m.ev.other)) st.other[e] = (st.other[e] || 0) + c;
      st.presenceEntries += m.ev.presenceEntries;
      if (m.ev.online) for (const id of m.ev.online) st.online.add(id);
      st.lastOther = Math.max(st.lastOther, m.ev.lastOther - base);
    }
  };
  const workers = Array.from({ length: P }, (_, w) => forkWorker("./lib/chat-worker.mjs", w, "chat worker", {}, onBatch));
  const all = (msg, type, ms) => Promise.all(workers.map((h) => h.ask(msg, type, ms)));
  const link = {
    workers,
    emit: (ui, item) => out[owner[ui]].push(item),
    sendDue() {
      for (let w = 0; w < P; w++) {
        if (!out[w].length) continue;
        workers[w].child.send({ cmd: "send", items: out[w] });
        out[w] = [];
      }
    },
    flush: () => all({ cmd: "flush" }, "flushed", 30_000),
    mark: () => all({ cmd: "mark" }, "marked", 30_000),
    stats: () => all({ cmd: "stats" }, "stats", 30_000),
    async close() {
      await Promise.all(workers.map((h) => h.ask({ cmd: "close" }, "closed", 10_000).catch(() => {})));
      const until = now() + 5000;
      while (workers.some((h) => !h.exited) && now() < until) await sleep(50);
      for (const h of workers) if (!h.exited) h.child.kill("SIGKILL");
    },
  };
  const conns = await Promise.all(workers.map((h, w) => {
    const lo = Math.floor((w * U) / P);
    const hi = Math.floor(((w + 1) * U) / P);
    const users = [];
    for (let i = lo; i < hi; i++) {
      owner[i] = w;
      users.push({ ui: i, auth: authFor(ctx, world.users[i]) });
    }
    return h.ask({ cmd: "connect", url: ctx.url, users, localAddresses, concurrency }, "connected", 600_000);
  }).map((p) => p.catch(async (err) => {
    await link.close();
    throw err;
  })));
  for (const c of conns) for (const [k, v] of Object.entries(c.retries)) st.retries[k] = (st.retries[k] || 0) + v;
  return link;
}

async function chatLike(kind) {
  const fan = kind === "fanout";
  const U = fan ? num(args.members, 2000) : num(args.users, 1000);
  // Chat: C channels. Fan-out: G rooms (each a channel of its own server, like the chat's), one sender in each.
  const C = fan ? Math.max(1, Math.min(U, num(args.rooms, 1))) : Math.max(1, Math.min(U, num(args.channels, 100)));
  const rates = list(args.rates, fan ? [10] : [500, 1000, 2000, 3000, 4000, 6000, 8000]);
  const duration = num(args.duration, fan ? 10 : 20);
  const size = num(args.size, 64);
  // Chat: --procs P > 1 spreads the sockets over P worker processes (the fan-out stays in this process).
  const P = fan ? 1 : Math.max(1, Math.min(U, num(args.procs, 1)));
  Object.assign(result.params, fan ? { members: U, rooms: C, membersPerRoom: Math.round(U / C), ratesPerRoom: rates, durationS: duration, size } : { users: U, channels: C, rates, durationS: duration, size, procs: P });

  const world = await setupWorld(ctx, U, C, log, worldFile);
  await sleep(smoke ? 200 : 1000);
  // Several source addresses: a few thousand sockets must not run one address out of ephemeral ports.
  const localAddresses = Array.from({ length: Math.ceil(U / 4000) + 1 }, (_, j) => `127.${ctx.addrOctet}.251.${j + 1}`);
  const retries = {};
  const st = { recs: new Map(), step: -1, unknown: 0, wrongChannel: 0, dups: 0, late: 0, deliveries: 0, lastDelivery: 0, lastOther: now(), deliver: new Samples(16), other: {}, presenceEntries: 0, online: new Set(), disconnects: 0, disconnectReasons: {} };
  const mSetup = new Monitor(pids).begin();
  const tc = now();
  let socks = [];
  let link = null;
  if (P > 1) {
    st.retries = retries;
    link = await chatWorkers(P, world, st, localAddresses, Math.ceil(50 / P));
    const nr = Object.values(retries).reduce((a, b) => a + b, 0);
    log(`connected ${U} sockets in ${P} worker processes in ${((now() - tc) / 1000).toFixed(1)} s${nr ? `; ${nr} connects retried ${JSON.stringify(retries)}` : ""}`);
  } else {
    socks = await connectAll(ctx.url, world.users.map((u) => authFor(ctx, u)), { concurrency: 50, log, localAddresses, retries, onSocket: countEvents(st) });
    attach(world, socks, st);
  }
  const connectS = (now() - tc) / 1000;
  result.connectRetries = retries;
  // Wait until the connect-time announcements (presence) stop, so they do not overlap the measured steps.
  result.setupEvents = await quiet(st, smoke ? 10 : 180, U);
  if (link) {
    // What the workers counted but had not reported yet when quiet() returned belongs to the setup.
    await link.flush();
    for (const [e, c] of Object.entries(st.other)) result.setupEvents[e] = (result.setupEvents[e] || 0) + c;
    result.setupEvents.presenceEntries += st.presenceEntries;
    result.setupEvents.onlineAnnounced = st.online.size;
    st.other = {};
    st.presenceEntries = 0;
  }
  if (target === "ours" && result.setupEvents.onlineAnnounced < U) result.notes.push(`only ${result.setupEvents.onlineAnnounced} of ${U} members were announced online before the steps began`);
  const ms = mSetup.end();
  result.setup = { connectS: r2(connectS), untilQuietS: ms.seconds, serverCpuS: ms.server ? ms.server.cpuS : null, loadgenCpuS: ms.loadgen.cpuS, cassandraCpuS: ms.cassandra ? ms.cassandra.cpuS : null, mongoCpuS: ms.mongo ? ms.mongo.cpuS : null, postgresCpuS: ms.postgres ? ms.postgres.cpuS : null };
  log(`events from the first connect until quiet (before the steps): ${JSON.stringify(result.setupEvents)}; server CPU ${result.setup.serverCpuS} s, load generator CPU ${ms.loadgen.cpuS} s`);
  try {
    // Chat: user n % U sends the n-th message (consecutive users sit in different channels). Fan-out: the first
    // member of room n % G sends the n-th message.
    const pickSender = fan ? (n) => world.channels[n % C].members[0] : (n) => n % U;
    const { steps, acked, sentNonces, delivery } = await runSteps(world, socks, st, { rates, duration, size, pickSender, senders: fan ? C : 1, allSteps: args["all-steps"] === "true", link });
    result.steps = steps;
    result.delivery = delivery;
    const good = steps.filter((s) => !s.saturated && s.deliver.p99 !== null && s.deliver.p99 < 100);
    result.bestRateP99Under100ms = good.length ? Math.max(...good.map((s) => s.rate)) : null;
    result.maxDeliveriesPerS = Math.max(...steps.map((s) => s.deliveriesPerS));
    if (target === "ours") result.history = await verifyHistory(world, acked, sentNonces);
    else result.notes.push("the peer keeps no history: loss and duplicates are checked on deliveries only");
  } finally {
    for (const s of socks) s.close();
    if (link) await link.close();
  }
}

// ------------------------------------------------------------------------------------------------------- presence

async function presenceScenario() {
  if (target !== "ours") {
    result.skipped = "the peer has no presence";
    return;
  }
  const K = num(args.members, 2000);
  const conc = num(args.concurrency, 100);
  const tail = num(args.tail, 5);
  Object.assign(result.params, { members: K, concurrency: conc, tailS: tail });
  const world = await setupWorld(ctx, K, 1, log, worldFile);
  await sleep(smoke ? 500 : 2000);

  const phases = {};
  let cur = null;
  const startPhase = (name) => {
    cur = { name, presenceUpdate: 0, presenceBatch: 0, entries: 0, other: {}, last: 0, mon: new Monitor(pids).begin(), t0: now() };
    phases[name] = cur;
  };
  const endPhase = () => {
    const m = cur.mon.end();
    Object.assign(cur, {
      seconds: m.seconds, serverCpuS: m.server ? m.server.cpuS : null, loadgenCpuS: m.loadgen.cpuS,
      postgresCpuS: m.postgres ? m.postgres.cpuS : null, cassandraCpuS: m.cassandra ? m.cassandra.cpuS : null, mongoCpuS: m.mongo ? m.mongo.cpuS : null,
      loadgenEventLoopP99Ms: m.loadgen.eventLoopDelayP99Ms, deliveries: cur.presenceUpdate + cur.presenceBatch,
    });
    delete cur.mon;
    delete cur.t0;
    delete cur.last;
  };
  // Counted from each socket's first event on (its listeners are attached before it connects). `online`: the
  // members whose "online" presence some socket received (each member's own socket gets its own announcement).
  const online = new Set();
  let allOnlineAt = null;
  let tFirst = 0;
  const seen = (p) => {
    if (p && p.status === "online" && p.userId) {
      online.add(p.userId);
      if (online.size === K && allOnlineAt === null) allOnlineAt = now();
    }
  };
  const onSocket = (s) =>
    s.onAny((event, payload) => {
      if (event === "presence:update") {
        cur.presenceUpdate++;
        cur.entries++;
        seen(payload);
      } else if (event === "presence:batch") {
        cur.presenceBatch++;
        if (payload && Array.isArray(payload.updates)) {
          cur.entries += payload.updates.length;
          payload.updates.forEach(seen);
        }
      } else {
        cur.other[event] = (cur.other[event] || 0) + 1;
        return;
      }
      cur.last = now();
    });
  const localAddresses = Array.from({ length: Math.ceil(K / 4000) + 1 }, (_, j) => `127.${ctx.addrOctet}.252.${j + 1}`);
  const retries = {};
  let socks = [];
  let disconnects = 0;
  let closing = false;
  const reasons = {};
  try {
    startPhase("connect");
    tFirst = now();
    socks = await connectAll(ctx.url, world.users.map((u) => authFor(ctx, u)), { concurrency: conc, log, localAddresses, retries, onSocket });
    endPhase();
    const connectS = phases.connect.seconds;
    for (const s of socks) {
      s.on("disconnect", (reason) => {
        if (closing) return;
        disconnects++;
        reasons[reason] = (reasons[reason] || 0) + 1;
      });
    }
    log(`${K} members connected in ${connectS} s: ${phases.connect.deliveries} presence deliveries (${phases.connect.entries} entries) meanwhile`);
    startPhase("tail");
    await sleep(tail * 1000);
    endPhase();
    log(`the ${tail} s after the last connect: ${phases.tail.deliveries} presence deliveries (${phases.tail.entries} entries)`);
    // Whatever still arrives later (a server behind on its announcements): until every member was announced online
    // and 2 s pass without any presence event, or 30 s pass without one (bounded).
    startPhase("afterTail");
    const t = now();
    cur.last = t;
    const over = () => now() - cur.last >= 30_000 || (now() - cur.last >= QUIET_MS && online.size >= K);
    while (!over() && now() - t < (smoke ? 10_000 : 180_000)) await sleep(100);
    endPhase();
    log(`after that, until quiet: ${phases.afterTail.deliveries} presence deliveries (${phases.afterTail.entries} entries) in ${phases.afterTail.seconds} s`);
  } finally {
    closing = true;
    for (const s of socks) s.close();
  }
  const c = phases.connect;
  const tl = phases.tail;
  const deliveries = c.deliveries + tl.deliveries;
  const entries = c.entries + tl.entries;
  Object.assign(result, {
    members: K, connected: socks.length, connectS: c.seconds, connectsPerS: r1(socks.length / c.seconds),
    connectRetries: Object.values(retries).reduce((a, b) => a + b, 0), connectRetryReasons: retries,
    // The figure: presence events received by all clients during the connect phase and the tail after it.
    presenceDeliveries: deliveries, presenceEntries: entries,
    presenceDeliveriesPerMember: r1(deliveries / K), presenceEntriesPerMember: r1(entries / K),
    presenceEntriesOverKSquared: r2(entries / (K * K)),
    presenceDeliveriesAfterTail: phases.afterTail.deliveries, presenceEntriesAfterTail: phases.afterTail.entries,
    presenceDeliveriesUntilQuiet: deliveries + phases.afterTail.deliveries, presenceEntriesUntilQuiet: entries + phases.afterTail.entries,
    membersAnnouncedOnline: online.size, allAnnouncedOnlineAfterS: allOnlineAt === null ? null : r2((allOnlineAt - tFirst) / 1000),
    serverCpuMsPerConnect: c.serverCpuS !== null && socks.length ? r2((c.serverCpuS * 1000) / socks.length) : null,
    phases, disconnects, disconnectReasons: reasons,
  });
  if (disconnects > 0) failure(`${disconnects} sockets were disconnected while the members connected ${JSON.stringify(reasons)}`);
  if (online.size < K) result.notes.push(`only ${online.size} of ${K} members were announced online`);
  log(`presence while ${K} members connect and ${tail} s after: ${deliveries} deliveries, ${entries} entries (${result.presenceEntriesOverKSquared} × K²); ` +
    `server CPU ${c.serverCpuS} + ${tl.serverCpuS} s, load generator CPU ${c.loadgenCpuS} + ${tl.loadgenCpuS} s`);
}

// ----------------------------------------------------------------------------------------------------- throughput

/**
 * forkWorker starts one load generator child process (`file` under bench/). ask(msg, type, ms) sends a command and
 * resolves with the worker's next message of that type (rejects on its error report, its exit or the timeout);
 * messages nobody asked for go to onOther (the chat workers' batches).
 */
function forkWorker(file, w, name, env = {}, onOther = null) {
  // "advanced" serialization: the workers send latencies as typed arrays, not JSON.
  const child = fork(new URL(file, import.meta.url), [], {
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  trackChild(child.pid);
  const waiting = new Map();
  const h = { child, exited: false };
  const rejectAll = (err) => {
    for (const x of waiting.values()) x.reject(err);
    waiting.clear();
  };
  child.on("message", (m) => {
    if (m.type === "error") return rejectAll(new Error(`${name} ${w}: ${m.message}`));
    const x = waiting.get(m.type);
    if (x) {
      waiting.delete(m.type);
      x.resolve(m);
    } else if (onOther) onOther(m);
  });
  child.on("exit", (code) => {
    untrackChild(child.pid); // reaped: its CPU is now in this process's cutime+cstime
    h.exited = true;
    rejectAll(new Error(`${name} ${w} exited (${code})`));
  });
  h.ask = (msg, type, timeoutMs) =>
    new Promise((resolve, reject) => {
      if (h.exited) return reject(new Error(`${name} ${w} has exited`));
      const t = setTimeout(() => {
        waiting.delete(type);
        reject(new Error(`${name} ${w}: no "${type}" answer in ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(type, {
        resolve: (m) => (clearTimeout(t), resolve(m)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      child.send(msg);
    });
  return h;
}
const forkTpWorker = (w) => forkWorker("./lib/tp-worker.mjs", w, "throughput worker", { TP_WORKER: String(w) });

async function throughput(place = null) {
  if (target !== "ours") {
    result.skipped = "the peer stores nothing: write throughput is Parley's";
    return;
  }
  const U = num(args.users, 400);
  const C = Math.max(1, Math.min(U, num(args.channels, 200)));
  const rates = list(args.rates, [2000, 5000, 10000, 15000]);
  const duration = num(args.duration, 15);
  const size = num(args.size, 64);
  const P = Math.max(1, Math.min(U, num(args.procs, 2)));
  const allSteps = args["all-steps"] === "true";
  const ackTimeoutMs = 30_000;
  Object.assign(result.params, { users: U, channels: C, membersPerChannel: r1(U / C), rates, durationS: duration, size, procs: P, client: "ws 8 with the protocol by hand (bench/lib/tp-worker.mjs)" });

  const world = await setupWorld(ctx, U, C, log, worldFile);
  tpWorld = world;
  await sleep(smoke ? 200 : 1000);
  const workers = Array.from({ length: P }, (_, w) => forkTpWorker(w));
  const steps = [];
  let finished = [];
  const counts = () => Promise.all(workers.map((h) => h.ask({ cmd: "count" }, "count", 10_000)));
  try {
    // Worker w drives users w, w+P, ... (one socket each).
    const mSetup = new Monitor(pids).begin();
    const conn = await Promise.all(workers.map((h, w) => h.ask({
      cmd: "connect", url: ctx.url, concurrency: 25,
      users: world.users.filter((u) => u.i % P === w).map((u) => ({ token: u.token, channelId: u.channelId, channel: u.channel, url: place ? place(u) : undefined })),
      localAddresses: [1, 2].map((j) => `127.${ctx.addrOctet}.253.${2 * w + j}`),
    }, "connected", 180_000)));
    const connected = conn.reduce((a, c) => a + c.connected, 0);
    const connFailed = conn.reduce((a, c) => a + c.failed, 0);
    const retried = conn.reduce((a, c) => a + c.retried, 0);
    log(`connected ${connected}/${U} lean sockets in ${P} processes in ${r1(Math.max(...conn.map((c) => c.ms)) / 1000)} s; failed ${connFailed}, retried ${retried}`);
    result.connect = { connected, failed: connFailed, retried, errors: Object.assign({}, ...conn.map((c) => c.errors)), seconds: r2(Math.max(...conn.map((c) => c.ms)) / 1000) };
    if (connFailed) {
      mSetup.end();
      failure(`${connFailed} of ${U} sockets could not connect: ${JSON.stringify(result.connect.errors)}`);
      return;
    }
    // Let the connect-time announcements (presence) end before measuring: no such frame for QUIET_MS (bounded).
    const tq = now();
    while (now() - tq < (smoke ? 10_000 : 30_000)) {
      const idle = await Promise.all(workers.map((h) => h.ask({ cmd: "idle" }, "idle", 10_000)));
      if (Math.min(...idle.map((x) => x.idleMs)) >= QUIET_MS) break;
      await sleep(200);
    }
    const ms = mSetup.end();
    result.setup = { untilQuietS: ms.seconds, serverCpuS: ms.server ? ms.server.cpuS : null, loadgenCpuS: ms.loadgen.cpuS };

    for (let k = 0; k < rates.length; k++) {
      const R = rates[k];
      log(`step ${k + 1}/${rates.length}: ${R} msg/s for ${duration} s from ${P} processes`);
      const closedBefore = (await counts()).reduce((a, c) => a + c.closed, 0);
      const mon = new Monitor(pids).begin();
      const mainCpu0 = process.cpuUsage();
      const reps = await Promise.all(workers.map((h) => h.ask({ cmd: "step", k, rate: R / P, duration, size, tag: ctx.tag, ackTimeoutMs }, "step", (duration + ackTimeoutMs / 1000 + 60) * 1000)));
      const mainCpu = process.cpuUsage(mainCpu0);
      const m = mon.end();
      const lat = new Samples(reps.reduce((a, r) => a + r.lat.length, 0) + 1);
      for (const r of reps) for (let i = 0; i < r.lat.length; i++) lat.push(r.lat[i]);
      const sum = (f) => reps.reduce((a, r) => a + f(r), 0);
      const errors = {};
      for (const r of reps) for (const [c, v] of Object.entries(r.errors)) errors[c] = (errors[c] || 0) + v;
      const offered = sum((r) => r.offered);
      const acked = sum((r) => r.acked);
      const timeouts = sum((r) => r.ackTimeouts);
      const sendS = Math.max(...reps.map((r) => r.sendSeconds));
      // Persisted msg/s: acknowledged (= stored) messages over the step, or over the time to the last ack if
      // the server fell behind and acked past the end of the sending.
      const span = Math.max(duration, ...reps.map((r) => r.lastOkS || 0));
      const closed = reps.reduce((a, r) => a + r.closed, 0) - closedBefore;
      // Per process: CPU (share of one core) and event-loop lag, i.e. the delay of a 10 ms sampling timer minus
      // those 10 ms (an idle loop shows about 0).
      const lag = (ms) => r2(Math.max(0, ms - 10));
      const procs = [{ proc: "main", cpuS: r2((mainCpu.user + mainCpu.system) / 1e6), cpuShare: r2((mainCpu.user + mainCpu.system) / 1e6 / m.seconds), eventLoopLagP99Ms: lag(m.loadgen.eventLoopDelayP99Ms), eventLoopLagMaxMs: lag(m.loadgen.eventLoopDelayMaxMs) }];
      reps.forEach((r, w) => procs.push({ proc: `worker ${w}`, cpuS: r2(r.cpuS), cpuShare: r2(r.cpuS / r.seconds), eventLoopLagP99Ms: lag(r.elP99Ms), eventLoopLagMaxMs: lag(r.elMaxMs), sent: r.sent, maxBehind: r.maxBehind }));
      const step = {
        rate: R, durationS: duration, offered, sent: sum((r) => r.sent), sendSeconds: r2(sendS), achievedRate: r1(sum((r) => r.sent) / Math.max(sendS, 1e-3)),
        acked, errors, ackTimeouts: timeouts, persistedPerS: r1(acked / span), ack: lat.summary(),
        deliveries: sum((r) => r.deliveries), socketsClosed: closed,
        serverCpuS: m.server ? m.server.cpuS : null, cassandraCpuS: m.cassandra ? m.cassandra.cpuS : null, mongoCpuS: m.mongo ? m.mongo.cpuS : null,
        postgresCpuS: m.postgres ? m.postgres.cpuS : null,
        loadgenCpuS: m.loadgen.cpuS, loadgenShareOfMachine: m.loadgen.cpuS === null ? null : r2(m.loadgen.cpuS / (m.seconds * cpus().length)),
        loadgenProcesses: procs, seconds: m.seconds, monitor: m,
      };
      step.serverCpuUsPerMessage = step.serverCpuS !== null && acked ? r2((step.serverCpuS * 1e6) / acked) : null;
      step.cassandraCpuUsPerMessage = step.cassandraCpuS !== null && acked ? r2((step.cassandraCpuS * 1e6) / acked) : null;
      step.saturated = acked < 0.95 * offered || (step.ack.p99 !== null && step.ack.p99 > 1000);
      // Could the load generator have coloured this step? Its pacing fell behind, or a process's event loop
      // lagged (its own work, or no free core: it shares two with the server and Cassandra).
      const lg = [];
      if (step.achievedRate < 0.95 * R) lg.push(`sent at ${step.achievedRate} msg/s, below the offered ${R}`);
      for (const p of procs) if (p.eventLoopLagP99Ms > 50) lg.push(`${p.proc} event-loop lag p99 ${p.eventLoopLagP99Ms} ms`);
      step.loadgenBehind = lg.length ? lg.join("; ") : null;
      steps.push(step);
      log(`  ${R} msg/s: sent ${step.sent}/${offered} at ${step.achievedRate}/s, acked ${acked} (${step.persistedPerS} persisted msg/s), errors ${JSON.stringify(errors)}, timeouts ${timeouts}; ` +
        `ack p50/p95/p99/max ${step.ack.p50}/${step.ack.p95}/${step.ack.p99}/${step.ack.max} ms; ${step.deliveries} deliveries; ` +
        `CPU s: server ${step.serverCpuS}, cassandra ${step.cassandraCpuS}, mongo ${step.mongoCpuS}, postgres ${step.postgresCpuS}, load generator ${step.loadgenCpuS} ` +
        `(${procs.map((p) => `${p.proc} ${p.cpuS} s, event-loop lag p99 ${p.eventLoopLagP99Ms} ms`).join("; ")})` +
        (step.saturated ? "; SATURATED" : "") + (step.loadgenBehind ? `; load generator behind: ${step.loadgenBehind}` : ""));

      // Functional checks (timing never fails a run). Refusals (unavailable: the server's queue is full) and
      // sockets the server closes are how overload shows; in smoke runs, far below any limit, both are faults.
      const allowed = smoke ? [] : step.saturated ? ["unavailable", "rate_limited", "socket_closed"] : ["unavailable", "rate_limited"];
      const unexpected = Object.entries(errors).filter(([c]) => !allowed.includes(c));
      if (unexpected.length) failure(`${R} msg/s: send errors ${JSON.stringify(Object.fromEntries(unexpected))}`);
      if (smoke && timeouts > 0) failure(`${R} msg/s: ${timeouts} sends were never acknowledged`);
      if (closed > 0 && (smoke || !step.saturated)) failure(`${R} msg/s: the server closed ${closed} sockets`);
      else if (closed > 0) result.notes.push(`${R} msg/s (overloaded): the server closed ${closed} sockets`);
      if (step.saturated && !allSteps && k < rates.length - 1) {
        log(`  saturated at ${R} msg/s: stopping here`);
        break;
      }
      await sleep(smoke ? 200 : 1000);
    }
    finished = (await Promise.all(workers.map((h) => h.ask({ cmd: "finish" }, "finish", 60_000)))).map((f) => f.steps);

    // Deliveries: every acknowledged message reaches each member of its channel once (the sender included).
    // Counted, not matched per message (the lean client does not parse them): a shortfall is loss, a surplus
    // beyond what timed-out sends (possibly stored) explain is a duplicate or a refused message announced.
    let expected = 0;
    for (const ws of finished) for (const s of ws) for (let n = 0; n < s.ids.length; n++) if (s.ids[n]) expected += world.channels[s.chan[n]].members.length;
    const timedOut = steps.reduce((a, s) => a + s.ackTimeouts, 0);
    const maxMembers = Math.max(...world.channels.map((c) => c.members.length));
    let c = await counts();
    const ts = now();
    const total = () => c.reduce((a, x) => a + x.deliveries, 0);
    while (total() < expected && now() - ts < (smoke ? 10_000 : 30_000)) {
      await sleep(250);
      c = await counts();
    }
    await sleep(smoke ? 300 : 1000); // anything beyond the expected count still in flight
    c = await counts();
    const delivered = total();
    const closedAll = c.reduce((a, x) => a + x.closed, 0);
    result.delivery = { expected, delivered, missing: Math.max(0, expected - delivered), surplus: Math.max(0, delivered - expected), sendsTimedOut: timedOut, socketsClosed: closedAll, lateAcks: c.reduce((a, x) => a + x.lateAcks, 0) };
    log(`deliveries: ${delivered} of ${expected} expected (sockets closed by the server: ${closedAll}, sends timed out: ${timedOut})`);
    if (delivered < expected && closedAll === 0) failure(`${expected - delivered} of ${expected} deliveries of acknowledged messages never arrived`);
    if (delivered > expected + timedOut * maxMembers) failure(`${delivered - expected} deliveries more than the acknowledged messages explain (duplicates, or refused messages announced)`);
  } finally {
    await Promise.all(workers.map((h) => h.ask({ cmd: "close" }, "closed", 10_000).catch(() => {})));
    const until = now() + 5000;
    while (workers.some((h) => !h.exited) && now() < until) await sleep(50);
    for (const h of workers) if (!h.exited) h.child.kill("SIGKILL");
  }
  result.steps = steps;
  const good = steps.filter((s) => !s.saturated && s.ack.p99 !== null && s.ack.p99 < 100);
  result.bestRateP99Under100ms = good.length ? Math.max(...good.map((s) => s.rate)) : null;
  result.maxPersistedPerS = steps.length ? Math.max(...steps.map((s) => s.persistedPerS)) : null;
  // The most persisted msg/s is the ceiling only if some step offered more than was stored; otherwise a higher
  // rate might have stored more (with a p99 above 1 s, the run stops before trying one: --all-steps).
  result.ceilingReached = steps.some((s) => s.persistedPerS < 0.95 * s.rate);
  result.goal = { persistedPerS: 10000, ackP99Ms: 100, met: good.some((s) => s.rate >= 10000 && s.persistedPerS >= 0.95 * s.rate) };

  // History: every acknowledged message stored exactly once, checked in every channel that got one.
  const acked = new Map();
  const sentNonces = new Map();
  finished.forEach((ws, w) => {
    for (const s of ws) {
      for (let n = 0; n < s.ids.length; n++) {
        const channelId = world.channels[s.chan[n]].id;
        const nonce = `${ctx.tag}.${w}.${s.k}.${n}`;
        if (!sentNonces.has(channelId)) sentNonces.set(channelId, new Set());
        sentNonces.get(channelId).add(nonce);
        if (!s.ids[n]) continue;
        if (!acked.has(channelId)) acked.set(channelId, []);
        acked.get(channelId).push({ id: s.ids[n], nonce });
      }
    }
  });
  result.history = await verifyHistory(world, acked, sentNonces);
}

// -------------------------------------------------------------------------------------------------------- cluster

let tpWorld = null; // the throughput scenario's world, for the cluster scenario's placement figures

/**
 * owners reads each channel's lease from Redis (`<prefix>:lease:<channelId>`, "<nodeId>|<incarnation>|...") and
 * returns, per channel, the index in ctx.urls of the node that owns it (node id k+1 at urls[k], or --node-ids),
 * -1 if no node holds its lease.
 */
async function owners(world) {
  const ids = String(args["node-ids"] || ctx.urls.map((_, k) => k + 1).join(",")).split(",");
  const vals = await redisGet(args["redis-url"], world.channels.map((ch) => `${args["redis-prefix"]}:lease:${ch.id}`));
  return vals.map((v) => (v ? ids.indexOf(v.split("|")[0]) : -1));
}

/**
 * placementFigures: how much of the traffic crosses nodes, given each user's node (nodeOf), each channel's owner
 * and the senders: the share of sends a gateway forwards to the owner, and the share of deliveries whose
 * socket is not on the owner (they reach it through the Redis bus).
 */
function placementFigures(world, nodeOf, own, senders) {
  const N = ctx.urls.length;
  let fwd = 0;
  let cross = 0;
  let dl = 0;
  for (const ui of senders) {
    const u = world.users[ui];
    const o = own[u.channel];
    if (nodeOf[ui] !== o) fwd++;
    for (const m of world.channels[u.channel].members) {
      dl++;
      if (nodeOf[m] !== o) cross++;
    }
  }
  const socketsPerNode = Array(N).fill(0);
  for (const u of world.users) socketsPerNode[nodeOf[u.i]]++;
  const channelsOwnedPerNode = Array(N).fill(0);
  for (const o of own) if (o >= 0) channelsOwnedPerNode[o]++;
  return { socketsPerNode, channelsOwnedPerNode, sendersUsed: senders.length, sendsForwardedShare: r2(fwd / Math.max(1, senders.length)), deliveriesCrossingShare: r2(cross / Math.max(1, dl)) };
}

/**
 * spreadNode: round-robin placement. Member j of channel c sits on node (c + j) % N, so a channel's members are
 * spread over every node whatever the number of channels (user i % N would put a whole channel on one node when
 * N divides the channel count) and the nodes hold equal shares of the sockets.
 */
const spreadNode = (u, N) => (u.channel + u.memberIndex) % N;

/** perNode adds each node's CPU (s and µs per acknowledged message) to a step, from its monitor. */
function perNode(step, acked, roles = null) {
  const m = step.monitor || {};
  const N = ctx.urls.length;
  if (N === 1) {
    step.nodes = [{ node: 1, cpuS: m.server ? m.server.cpuS : null, cpuUsPerMessage: m.server && acked ? r2((m.server.cpuS * 1e6) / acked) : null }];
  } else {
    step.nodes = ctx.urls.map((_, k) => {
      const x = m[`node${k + 1}`];
      return { node: k + 1, role: roles ? roles[k] : null, cpuS: x ? x.cpuS : null, cpuUsPerMessage: x && acked ? r2((x.cpuS * 1e6) / acked) : null, peakRssMB: x ? x.peakRssMB : null };
    });
  }
  step.serverCpuUsPerMessage = m.server && acked ? r2((m.server.cpuS * 1e6) / acked) : null;
  step.redisCpuS = m.redis ? m.redis.cpuS : null;
  step.postgresCpuS = m.postgres ? m.postgres.cpuS : null;
  if (roles) {
    const sum = (role) => step.nodes.filter((x) => x.role === role).reduce((a, x) => (a === null || x.cpuS === null ? null : a + x.cpuS), 0);
    const g = sum("gateway");
    const o = sum("owner");
    step.gatewayCpuUsPerMessage = g !== null && acked ? r2((g * 1e6) / acked) : null;
    step.ownerCpuUsPerMessage = o !== null && acked ? r2((o * 1e6) / acked) : null;
  }
}

/**
 * The cluster scenario (issue #14): the same small workload against one node and against N nodes of one cluster.
 *   --mode latency (official socket.io-client, as the chat scenario): --users U [200] --channels C [20]
 *     --rates R1,.. [200,500] --duration T [20]; --variant says where each user's socket sits:
 *       single   one node (no cluster settings)
 *       spread   round-robin (member j of channel c on node (c + j) % N): most sends are forwarded and most
 *                deliveries cross nodes
 *       local    every user on its channel's owner: nothing forwarded (the bus still carries each broadcast)
 *       gateway  every socket on one node (the one owning fewest channels), only the users of channels the others
 *                own send: that node is a pure gateway (check, forward, deliver from the bus), the others pure
 *                owners (store, ack, publish): their CPU per message splits the cost of forwarding.
 *     Before measuring, every channel gets one message through node 1 (the owners take their leases), and the
 *     owners are read from Redis (--redis-url, --redis-prefix; node k+1 at URL k unless --node-ids).
 *   --mode throughput: the throughput scenario's method (lean clients, rising rates, stop at saturation), users
 *     placed round-robin as in "spread" (variant tp-single / tp-spread).
 */
async function cluster() {
  if (target !== "ours") {
    result.skipped = "the cluster scenario is Parley's";
    return;
  }
  const N = ctx.urls.length;
  const mode = args.mode || "latency";
  const variant = args.variant || (N === 1 ? "single" : "spread");
  result.variant = variant;
  if (N > 1 && (!args["redis-url"] || !args["redis-prefix"])) throw new Error("several nodes need --redis-url and --redis-prefix (the channel leases)");
  result.params.nodes = N;
  result.params.mode = mode;
  if (mode === "throughput") {
    result.params.placement = N === 1 ? "one node" : `round-robin: a channel's member j on node (channel + j) % ${N}`;
    await throughput(N === 1 ? null : (u) => ctx.urls[spreadNode(u, N)]);
    if (N > 1 && tpWorld) {
      const own = await owners(tpWorld);
      result.owners = own;
      const nodeOf = tpWorld.users.map((u) => spreadNode(u, N));
      result.placement = placementFigures(tpWorld, nodeOf, own, tpWorld.users.map((u) => u.i));
    }
    for (const st of result.steps || []) perNode(st, st.acked);
    return;
  }
  if (!["single", "spread", "local", "gateway"].includes(variant)) throw new Error(`unknown cluster variant ${variant}`);
  if (variant !== "single" && N < 2) throw new Error(`variant ${variant} needs several nodes (--urls)`);
  const U = num(args.users, 200);
  const C = Math.max(1, Math.min(U, num(args.channels, 20)));
  const rates = list(args.rates, [200, 500]);
  const duration = num(args.duration, 20);
  const size = num(args.size, 64);
  Object.assign(result.params, { users: U, channels: C, membersPerChannel: r1(U / C), rates, durationS: duration, size, client: "official socket.io-client, one process" });

  const world = await setupWorld(ctx, U, C, log, worldFile);
  // Every node must know the others (live nodes are re-read every 500 ms) before a channel's owner is decided.
  await sleep(N > 1 ? 2000 : smoke ? 200 : 1000);
  // Warm-up: one message per channel from its first member, through node 1 (forwarded to the owner): the owners
  // take their leases and read the retry horizon now, not in the first measured step; then the leases say who owns what.
  const tw = now();
  const warmRetries = {};
  const warm = await connectAll(ctx.url, world.channels.map((ch) => authFor(ctx, world.users[ch.members[0]])), { concurrency: 10, retries: warmRetries });
  try {
    await pool(world.channels, 10, async (ch, c) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await warm[c].timeout(20_000).emitWithAck("message:send", { channelId: ch.id, content: "warm-up", nonce: `${ctx.tag}.w.${c}` });
        if (res.ok) return;
        if (!res.error || !res.error.retryable) throw new Error(`warm-up send: ${JSON.stringify(res.error)}`);
        await sleep(Math.min(2000, res.error.retryAfterMs || 100));
      }
      throw new Error("warm-up send: still refused after 50 attempts");
    });
  } finally {
    for (const s of warm) s.close();
  }
  const own = N > 1 ? await owners(world) : world.channels.map(() => 0);
  if (own.some((o) => o < 0)) throw new Error(`no lease found for ${own.filter((o) => o < 0).length} of ${C} channels after the warm-up`);
  log(`warm-up: one message in each of ${C} channels in ${((now() - tw) / 1000).toFixed(1)} s; channels owned per node: ${ctx.urls.map((_, k) => own.filter((o) => o === k).length).join(", ")}`);

  // Placement: each user's node, and who sends.
  let nodeOf;
  let senders = world.users.map((u) => u.i);
  let roles = null;
  if (variant === "single") nodeOf = world.users.map(() => 0);
  else if (variant === "spread") nodeOf = world.users.map((u) => spreadNode(u, N));
  else if (variant === "local") nodeOf = world.users.map((u) => own[u.channel]);
  else {
    const counts = ctx.urls.map((_, k) => own.filter((o) => o === k).length);
    const g = counts.indexOf(Math.min(...counts));
    nodeOf = world.users.map(() => g);
    senders = senders.filter((ui) => own[world.users[ui].channel] !== g);
    roles = ctx.urls.map((_, k) => (k === g ? "gateway" : "owner"));
    if (!senders.length) throw new Error("every channel is owned by the gateway node: no sender left");
    result.gatewayNode = g + 1;
  }
  result.owners = own;
  result.placement = placementFigures(world, nodeOf, own, senders);
  log(`placement ${variant}: sockets per node ${result.placement.socketsPerNode.join(", ")}; ${senders.length} senders; ` +
    `sends forwarded ${Math.round(result.placement.sendsForwardedShare * 100)} %, deliveries crossing nodes ${Math.round(result.placement.deliveriesCrossingShare * 100)} %`);

  const localAddresses = [1, 2].map((j) => `127.${ctx.addrOctet}.250.${j}`);
  const retries = {};
  const st = { recs: new Map(), step: -1, unknown: 0, wrongChannel: 0, dups: 0, late: 0, deliveries: 0, lastDelivery: 0, lastOther: now(), deliver: new Samples(16), other: {}, presenceEntries: 0, online: new Set(), disconnects: 0, disconnectReasons: {} };
  const mSetup = new Monitor(pids).begin();
  const tc = now();
  const socks = await connectAll(ctx.url, world.users.map((u) => authFor(ctx, u)), { concurrency: 20, log, localAddresses, retries, onSocket: countEvents(st), urls: world.users.map((u) => ctx.urls[nodeOf[u.i]]) });
  attach(world, socks, st);
  const connectS = (now() - tc) / 1000;
  result.connectRetries = Object.assign(retries, warmRetries);
  result.setupEvents = await quiet(st, smoke ? 10 : 120, U);
  const ms = mSetup.end();
  result.setup = { connectS: r2(connectS), untilQuietS: ms.seconds, serverCpuS: ms.server ? ms.server.cpuS : null, loadgenCpuS: ms.loadgen.cpuS };
  try {
    const { steps, acked, sentNonces, delivery } = await runSteps(world, socks, st, { rates, duration, size, pickSender: (n) => senders[n % senders.length], allSteps: true });
    for (const s of steps) perNode(s, s.acked, roles);
    result.steps = steps;
    result.delivery = delivery;
    for (const s of steps) {
      log(`  ${s.rate} msg/s: server CPU ${s.serverCpuUsPerMessage} µs/msg (` + s.nodes.map((x) => `node ${x.node}${x.role ? ` ${x.role}` : ""} ${x.cpuUsPerMessage}`).join(", ") + `), redis CPU ${s.redisCpuS} s`);
    }
    result.history = await verifyHistory(world, acked, sentNonces);
  } finally {
    for (const s of socks) s.close();
  }
  if (N > 1) {
    const after = await owners(world);
    const moved = after.filter((o, c) => o !== own[c]).length;
    result.ownersMovedDuringRun = moved;
    if (moved) result.notes.push(`${moved} of ${C} channels changed owner during the run: the placement figures are off for them`);
  }
}

// -------------------------------------------------------------------------------------------------------- history

async function history() {
  if (target !== "ours") {
    result.skipped = "the peer has no history";
    return;
  }
  const M = Math.max(360, num(args.messages, 400));
  const reads = num(args.reads, 5000);
  const conc = num(args.concurrency, 1);
  // Unmeasured reads before each measured run: a fresh server process's first requests pay for one-time work
  // (connection set-up, pools and caches filling), which is not what a page costs.
  const warmups = Math.min(200, reads);
  Object.assign(result.params, { messages: M, reads, warmups, concurrency: conc, pageSize: 50 });
  const world = await setupWorld(ctx, 1, 1, log);
  const u = world.users[0];
  const [sock] = await connectAll(ctx.url, [authFor(ctx, u)], { retries: (result.connectRetries = {}) });
  const ids = new Array(M);
  const t0 = now();
  try {
    // Fill the channel: M messages, at most 32 in flight, retrying refusals (the per-user send limit).
    await pool(Array.from({ length: M }, (_, i) => i), 32, async (i) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await sock.timeout(20_000).emitWithAck("message:send", { channelId: u.channelId, content: `history ${i}`, nonce: `${ctx.tag}.${i}` });
        if (res.ok) {
          ids[i] = res.message.id;
          return;
        }
        if (!res.error || !res.error.retryable) throw new Error(`send: ${JSON.stringify(res.error)}`);
        await sleep(Math.min(2000, res.error.retryAfterMs || 100));
      }
      throw new Error("send: still refused after 50 attempts");
    });
  } finally {
    sock.close();
  }
  log(`stored ${M} messages in ${((now() - t0) / 1000).toFixed(1)} s`);
  const sorted = [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const desc = (from, n) => sorted.slice(Math.max(0, from - n + 1), from + 1).reverse(); // ids from index `from` down
  const path = `/api/channels/${u.channelId}/messages?limit=50`;
  // The newest page: the first read loads the channel's window from Cassandra; later ones are served from memory.
  const warm = await api(ctx.url, "GET", path, { token: u.token });
  const expectNewest = desc(M - 1, 50);
  let wrong = 0;
  const same = (page, want) => page.messages.length === want.length && page.messages.every((m, i) => m.id === want[i]);
  if (!same(warm, expectNewest)) wrong++;
  // The older page: before the 301st newest message, past the in-memory window (at most 200, 100 after a warm-up).
  const beforeIdx = M - 301;
  const oldPath = `${path}&before=${sorted[beforeIdx]}`;
  const expectOld = desc(beforeIdx - 1, 50);

  const measure = async (label, p, want) => {
    for (let i = 0; i < warmups; i++) await request(ctx.url, "GET", p, { token: u.token });
    const lat = new Samples(reads);
    const mon = new Monitor(pids).begin();
    const t = now();
    let bad = 0;
    let errs = 0;
    await pool(Array.from({ length: reads }, (_, i) => i), conc, async () => {
      const s = now();
      const res = await request(ctx.url, "GET", p, { token: u.token });
      lat.push(now() - s);
      if (res.status !== 200) errs++;
      else if (!same(res.body, want)) bad++;
    });
    const secs = (now() - t) / 1000;
    const out = { ...lat.summary(), readsPerS: r1(reads / secs), wrongPages: bad, errors: errs, monitor: mon.end() };
    out.serverCpuUsPerRead = out.monitor.server ? r2((out.monitor.server.cpuS * 1e6) / reads) : null;
    log(`${label}: ${reads} reads, p50 ${out.p50} ms, p99 ${out.p99} ms, max ${out.max} ms, ${out.readsPerS}/s; wrong pages ${bad}, errors ${errs}`);
    if (bad) failure(`${label}: ${bad} pages did not hold the expected messages`);
    if (errs) failure(`${label}: ${errs} requests failed`);
    return out;
  };
  result.newest = await measure("newest page (memory)", path, expectNewest);
  result.older = await measure("older page (Cassandra)", oldPath, expectOld);
  if (wrong) failure("the first newest page did not hold the newest 50 messages");
}

// ------------------------------------------------------------------------------------------------------------ main

const fns = { connections, chat: () => chatLike("chat"), fanout: () => chatLike("fanout"), presence: presenceScenario, throughput: () => throughput(), history, cluster };
// Bounded: 45 minutes, or the connections scenario's hold plus 30 minutes.
const timeLimitS = num(args["time-limit"], Math.max(45 * 60, (scenario === "connections" ? num(args.hold, 60) : 0) + 30 * 60));
const hardStop = setTimeout(() => {
  log(`scenario exceeded its time limit (${Math.round(timeLimitS / 60)} min): aborting`);
  process.exit(2);
}, timeLimitS * 1000);
hardStop.unref();

let code = 0;
try {
  const mon = new Monitor(pids).begin();
  await fns[scenario]();
  result.total = mon.end();
  code = result.pass ? 0 : 1;
} catch (err) {
  result.pass = false;
  result.error = String(err && err.stack ? err.stack : err);
  log(`ERROR: ${err && err.message ? err.message : err}`);
  code = 2;
}
result.seconds = r2((now() - T0) / 1000);
if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2) + "\n");
else process.stdout.write(JSON.stringify(result, null, 2) + "\n");
process.exit(code);
