#!/usr/bin/env node
// The load generator of `make bench`: one scenario against one server per run, results as JSON.
//
//   node bench/load.mjs --scenario chat --target ours --url http://127.0.0.1:PORT --pid PID \
//        [--cassandra-pid PID] [--out result.json] [--smoke] [scenario flags]
//
// Scenarios and their flags (defaults in brackets):
//   connections  --conns N [1000] --users U [10] --hold S [60] --per-worker [4000] --concurrency [50]
//                N idle authenticated websocket connections (U users share them); server RSS per connection,
//                whether heartbeats hold (no disconnect for S seconds with the default 25 s ping interval).
//   chat         --users U [1000] --channels C [100] --rates R1,R2,.. [500,1000,2000,3000,4000,6000,8000]
//                --duration T [20] --size BYTES [64] [--all-steps]
//                U users in C channels (user i in channel i % C) send at a total of R msg/s for T s, one step per
//                rate, until a step saturates (refusals, loss, rate < 90 % of the target, or p99 > 1 s).
//   fanout       --members K [2000] --rates [25,50] --duration T [10] --size [64]
//                one channel with K members, one of them sending; deliveries/s, server CPU per delivery.
//   history      --messages M [400] --reads N [500] --concurrency [1]
//                GET the newest page of 50 of a hot channel (memory) and an older page (Cassandra).
// Every step checks that each acknowledged message reached every member exactly once, and (for Parley) that
// the channel history holds each acknowledged message exactly once. Exit status: 0 functionally correct,
// 1 a functional failure (loss, duplicates, errors; timing never fails a run), 2 the run itself broke.
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import {
  Monitor, Samples, api, authFor, connectAll, list, now, num, parseArgs, pool, procRead, r1, r2, request,
  setupWorld, sleep,
} from "./lib/common.mjs";

const args = parseArgs(process.argv.slice(2));
const scenario = args.scenario;
const target = args.target || "ours";
const smoke = args.smoke === "true";
const T0 = now();
const log = (msg) => process.stderr.write(`  [${scenario}/${target} ${((now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);

if (!args.url || !["connections", "chat", "fanout", "history"].includes(scenario)) {
  process.stderr.write("usage: node bench/load.mjs --scenario connections|chat|fanout|history --target ours|peer --url URL --pid PID [...]\n");
  process.exit(2);
}

const tag = (args.tag || Math.random().toString(36).slice(2, 8)).replace(/[^a-z0-9]/gi, "").slice(0, 10);
const ctx = {
  url: args.url.replace(/\/$/, ""),
  target,
  smoke,
  tag: `${tag}${scenario[0]}`,
  runSeq: Math.floor(Math.random() * 9000),
  // Source addresses: 127.11-60.x.x for Parley, 127.61-110.x.x for the peer (chosen at random per run).
  addrOctet: (target === "peer" ? 61 : 11) + Math.floor(Math.random() * 50),
};
const pids = { server: num(args.pid, 0) };
if (args["cassandra-pid"] && target === "ours") pids.cassandra = num(args["cassandra-pid"], 0);

const result = {
  scenario, target, smoke, startedAt: new Date().toISOString(), params: {}, pass: true, failures: [], notes: [],
};
const failure = (msg) => {
  result.pass = false;
  result.failures.push(msg);
  log(`FAIL: ${msg}`);
};

// ------------------------------------------------------------------------------------------------- connections

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
  const connectS = (now() - t0) / 1000;
  const connected = total();
  const failed = failedN();
  const errors = {};
  for (const s of state) for (const [k, v] of Object.entries(s.errors || {})) errors[k] = (errors[k] || 0) + v;
  const retries = {};
  for (const s of state) for (const [k, v] of Object.entries(s.retries || {})) retries[k] = (retries[k] || 0) + v;
  const nRetries = Object.values(retries).reduce((a, b) => a + b, 0);
  log(`connected ${connected}/${N} in ${connectS.toFixed(1)} s; failed ${failed}${failed ? " " + JSON.stringify(errors) : ""}; retried ${nRetries}${nRetries ? " " + JSON.stringify(retries) : ""}`);
  const cpuConnect = procRead(pids.server).cpu - before.cpu;

  await sleep(smoke ? 1000 : 3000);
  const afterConnect = procRead(pids.server);
  const holdStart = procRead(pids.server);
  const tHold = now();
  log(`holding ${connected} idle connections for ${hold} s (server RSS ${afterConnect.rssMB.toFixed(0)} MB, was ${before.rssMB.toFixed(0)} MB)`);
  while (now() - tHold < hold * 1000) {
    await sleep(Math.min(10_000, hold * 1000 - (now() - tHold) + 10));
    if (now() - tHold < hold * 1000) log(`held ${((now() - tHold) / 1000).toFixed(0)} s, server RSS ${procRead(pids.server).rssMB.toFixed(0)} MB`);
  }
  const holdEnd = procRead(pids.server);
  for (const w of workers) if (w.connected) w.send({ cmd: "report" });
  const rdeadline = now() + 15_000;
  while (!state.every((s) => s.report || s.exited) && now() < rdeadline) await sleep(100);
  const reports = state.map((s) => s.report).filter(Boolean);
  const open = reports.reduce((a, r) => a + r.open, 0);
  const disconnects = reports.reduce((a, r) => a + r.disconnects, 0);
  const reasons = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] || 0) + v;
  const pingsMin = reports.length ? Math.min(...reports.map((r) => r.pingsMin)) : 0;
  const clientMemMB = reports.reduce((a, r) => a + r.memMB, 0);
  const ages = reports.flatMap((r) => r.ages || []).sort((a, b) => a - b);

  for (const w of workers) if (w.connected) w.send({ cmd: "close" });
  const cdeadline = now() + 30_000;
  while (!state.every((s) => s.exited) && now() < cdeadline) await sleep(100);
  for (const w of workers) if (!state[workers.indexOf(w)].exited) w.kill("SIGKILL");
  const m = mon.end();

  const perConnKB = connected ? ((afterConnect.rssMB - before.rssMB) * 1024) / connected : null;
  Object.assign(result, {
    connected, failed, connectErrors: errors, connectRetries: nRetries, connectRetryReasons: retries, connectS: r2(connectS), connectsPerS: r1(connected / connectS),
    serverCpuConnectS: r2(cpuConnect), cpuMsPerConnect: connected ? r2((cpuConnect * 1000) / connected) : null,
    rssBeforeMB: r1(before.rssMB), rssConnectedMB: r1(afterConnect.rssMB), rssEndOfHoldMB: r1(holdEnd.rssMB),
    rssPerConnKB: r2(perConnKB), holdS: hold, openAtEnd: open, disconnectsDuringHold: disconnects, disconnectReasons: reasons,
    disconnectAgesMs: ages,
    pingsPerSocketMin: pingsMin, heartbeatsObserved: pingsMin > 0, serverCpuHoldS: r2(holdEnd.cpu - holdStart.cpu),
    clientRssMB: r1(clientMemMB), monitor: m,
  });
  if (failed > 0) failure(`${failed} of ${N} connections failed: ${JSON.stringify(errors)}`);
  if (connected < N && failed === 0) failure(`only ${connected} of ${N} connections were made in time`);
  if (disconnects > 0 || open !== connected) failure(`${disconnects} disconnects while idle (${JSON.stringify(reasons)}; ms after connecting: ${ages.join(", ")}), ${open}/${connected} open at the end`);
  if (hold >= 30 && pingsMin === 0) failure("no heartbeat (ping) reached a socket during the hold");
  log(`RSS per connection ${r2(perConnKB)} KB; disconnects during ${hold} s hold: ${disconnects}; pings per socket >= ${pingsMin}`);
}

// ---------------------------------------------------------------------------------------- chat and fan-out steps

/** attach wires message:new on every socket to the records, and counts every other event by name. */
function attach(world, socks, st) {
  socks.forEach((s, i) => {
    const u = world.users[i];
    s.on("message:new", (m) => {
      const rec = st.recs.get(m.nonce);
      if (!rec) {
        st.unknown++;
        return;
      }
      if (m.channelId !== rec.channelId) {
        st.wrongChannel++;
        return;
      }
      if (rec.seen[u.memberIndex]) {
        st.dups++;
        return;
      }
      rec.seen[u.memberIndex] = 1;
      rec.nSeen++;
      const t = now();
      st.deliveries++;
      st.lastDelivery = t;
      if (rec.step !== st.step) st.late++;
      else if (i !== rec.sender) st.deliver.push(t - rec.t0);
    });
    s.onAny((event) => {
      if (event === "message:new") return;
      st.other[event] = (st.other[event] || 0) + 1;
      st.lastOther = now();
    });
    s.on("disconnect", (reason) => {
      u.down = true;
      st.disconnects++;
      st.disconnectReasons[reason] = (st.disconnectReasons[reason] || 0) + 1;
    });
  });
}

/** quiet waits (bounded) until no event other than message:new has arrived for 2 s: the connect-time
 * announcements (presence) must not overlap the measured steps. Returns the events counted meanwhile. */
async function quiet(st, maxS) {
  const t0 = now();
  while (now() - t0 < maxS * 1000 && now() - Math.max(st.lastOther, t0) < 2000) await sleep(250);
  while (now() - t0 < maxS * 1000 && now() - st.lastOther < 2000) await sleep(250);
  const out = { ...st.other, waitedS: r1((now() - t0) / 1000) };
  st.other = {};
  return out;
}

/**
 * runSteps sends at each rate for `duration` seconds (open loop, paced every 5 ms), waits for every ack and
 * delivery (bounded), and summarises the step. pickSender(n) gives the user index of the n-th message.
 */
async function runSteps(world, socks, st, { rates, duration, size, pickSender, allSteps }) {
  const acked = new Map(); // channelId -> [{id, nonce}]
  const sentNonces = new Map(); // channelId -> Set(nonce) of every send (acked or not), for the history check
  const steps = [];
  const pad = "x".repeat(Math.max(0, size - 24));
  const ackTimeoutMs = 30_000;
  const all = st.recs; // every record of every step: late deliveries still count at the end
  for (let k = 0; k < rates.length; k++) {
    const R = rates[k];
    const total = Math.max(1, Math.round(R * duration));
    const recs = new Map();
    Object.assign(st, { step: k, disconnects: 0, disconnectReasons: {}, unknown: 0, wrongChannel: 0, dups: 0, late: 0, deliveries: 0, lastDelivery: 0, deliver: new Samples(total * 4), other: {} });
    const ackLat = new Samples(total);
    const errors = {};
    let acks = 0;
    let okAcks = 0;
    let timeouts = 0;
    log(`step ${k + 1}/${rates.length}: ${R} msg/s for ${duration} s (${total} messages)`);
    const mon = new Monitor(pids).begin();
    const start = now();
    let n = 0;
    let lastSend = start;
    const sendOne = () => {
      const ui = pickSender(n);
      const u = world.users[ui];
      const nonce = `${ctx.tag}.${k}.${n}`;
      const ch = world.channels[u.channel];
      const rec = { t0: now(), step: k, ch: u.channel, sender: ui, channelId: u.channelId, seen: new Uint8Array(ch.members.length), nSeen: 0, ok: false, failed: false, timedOut: false, id: null };
      recs.set(nonce, rec);
      all.set(nonce, rec);
      if (!sentNonces.has(u.channelId)) sentNonces.set(u.channelId, new Set());
      sentNonces.get(u.channelId).add(nonce);
      const content = `bench ${n} ${R} ${pad}`.slice(0, Math.max(size, 8));
      socks[ui].timeout(ackTimeoutMs).emit("message:send", { channelId: u.channelId, content, nonce }, (err, res) => {
        acks++;
        if (err) {
          timeouts++;
          rec.timedOut = true;
          return;
        }
        if (res && res.ok) {
          okAcks++;
          rec.ok = true;
          rec.id = res.message.id;
          ackLat.push(now() - rec.t0);
          if (res.message.nonce !== nonce || res.message.channelId !== u.channelId) errors.bad_ack = (errors.bad_ack || 0) + 1;
        } else {
          const code = (res && res.error && res.error.code) || "malformed_ack";
          errors[code] = (errors[code] || 0) + 1;
          rec.failed = true;
        }
      });
      n++;
      lastSend = now();
    };
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((now() - start) / 1000) * R) + 1);
        while (n < due) sendOne();
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
    const m = mon.end();

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
      rate: R, durationS: duration, sent: total, sendSeconds: r2(sendS), achievedRate: r1(total / Math.max(sendS, 1e-3)),
      acked: okAcks, errors, ackTimeouts: timeouts, ack: ackLat.summary(), deliver: st.deliver.summary(),
      deliveries: st.deliveries, expectedDeliveries, deliveriesPerS: r1(st.deliveries / Math.max(spanS, 1e-3)),
      undeliveredAtStepEnd: lost, messagesIncompleteAtStepEnd: lostMessages, missedByClosedSockets: toDown, duplicateDeliveries: st.dups, wrongChannel: st.wrongChannel,
      unknownDeliveries: st.unknown, lateFromEarlierSteps: st.late, otherEvents: st.other, disconnects: st.disconnects, monitor: m,
    };
    const cpu = m.server ? m.server.cpuS : null;
    step.serverCpuS = cpu;
    step.serverCpuUsPerDelivery = cpu !== null && st.deliveries ? r2((cpu * 1e6) / st.deliveries) : null;
    step.deliveriesPerCpuS = cpu ? Math.round(st.deliveries / cpu) : null;
    if (m.cassandra) {
      step.cassandraCpuS = m.cassandra.cpuS;
      step.cassandraCpuUsPerMessage = okAcks ? r2((m.cassandra.cpuS * 1e6) / okAcks) : null;
    }
    step.saturated = step.achievedRate < 0.9 * R || errorCount > 0 || timeouts > 0 || lost > 0 || st.late > 0 ||
      (step.deliver.p99 !== null && step.deliver.p99 > 1000);
    steps.push(step);
    log(`  ${R} msg/s: sent ${total} at ${step.achievedRate}/s, acked ${okAcks}, errors ${JSON.stringify(errors)}, timeouts ${timeouts}; ` +
      `ack p50/p99 ${step.ack.p50}/${step.ack.p99} ms; deliver p50/p99/max ${step.deliver.p50}/${step.deliver.p99}/${step.deliver.max} ms; ` +
      `${step.deliveries} deliveries (${step.deliveriesPerS}/s), undelivered at step end ${lost}, dup ${st.dups}; other events ${JSON.stringify(st.other)}; server CPU ${cpu} s` +
      (m.cassandra ? `, cassandra CPU ${m.cassandra.cpuS} s` : "") + `; loadgen event-loop p99 ${m.loadgen.eventLoopDelayP99Ms} ms`);

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
    await sleep(1000);
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

async function chatLike(kind) {
  const fan = kind === "fanout";
  const U = fan ? num(args.members, 2000) : num(args.users, 1000);
  const C = fan ? 1 : Math.max(1, Math.min(U, num(args.channels, 100)));
  const rates = list(args.rates, fan ? [25, 50] : [500, 1000, 2000, 3000, 4000, 6000, 8000]);
  const duration = num(args.duration, fan ? 10 : 20);
  const size = num(args.size, 64);
  Object.assign(result.params, fan ? { members: U, rates, durationS: duration, size } : { users: U, channels: C, rates, durationS: duration, size });

  const world = await setupWorld(ctx, U, C, log);
  // Several source addresses: a few thousand sockets must not run one address out of ephemeral ports.
  const localAddresses = Array.from({ length: Math.ceil(U / 4000) + 1 }, (_, j) => `127.${ctx.addrOctet}.251.${j + 1}`);
  const retries = {};
  const socks = await connectAll(ctx.url, world.users.map((u) => authFor(ctx, u)), { concurrency: 50, log, localAddresses, retries });
  result.connectRetries = retries;
  const st = { recs: new Map(), step: -1, unknown: 0, wrongChannel: 0, dups: 0, late: 0, deliveries: 0, lastDelivery: 0, lastOther: now(), deliver: new Samples(16), other: {}, disconnects: 0, disconnectReasons: {} };
  attach(world, socks, st);
  result.setupEvents = await quiet(st, smoke ? 10 : 120);
  log(`events after connecting (before the steps): ${JSON.stringify(result.setupEvents)}`);
  try {
    // Chat: user n % U sends the n-th message (consecutive users sit in different channels). Fan-out: user 0.
    const pickSender = fan ? () => 0 : (n) => n % U;
    const { steps, acked, sentNonces, delivery } = await runSteps(world, socks, st, { rates, duration, size, pickSender, allSteps: args["all-steps"] === "true" });
    result.steps = steps;
    result.delivery = delivery;
    const good = steps.filter((s) => !s.saturated && s.deliver.p99 !== null && s.deliver.p99 < 100);
    result.bestRateP99Under100ms = good.length ? Math.max(...good.map((s) => s.rate)) : null;
    result.maxDeliveriesPerS = Math.max(...steps.map((s) => s.deliveriesPerS));
    if (target === "ours") result.history = await verifyHistory(world, acked, sentNonces);
    else result.notes.push("the peer keeps no history: loss and duplicates are checked on deliveries only");
  } finally {
    for (const s of socks) s.close();
  }
}

// -------------------------------------------------------------------------------------------------------- history

async function history() {
  if (target !== "ours") {
    result.skipped = "the peer has no history";
    return;
  }
  const M = Math.max(360, num(args.messages, 400));
  const reads = num(args.reads, 500);
  const conc = num(args.concurrency, 1);
  Object.assign(result.params, { messages: M, reads, concurrency: conc, pageSize: 50 });
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

const fns = { connections, chat: () => chatLike("chat"), fanout: () => chatLike("fanout"), history };
const hardStop = setTimeout(() => {
  log("scenario exceeded its time limit (45 min): aborting");
  process.exit(2);
}, num(args["time-limit"], 45 * 60) * 1000);
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
