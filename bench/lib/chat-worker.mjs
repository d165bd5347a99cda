// A child process of the chat scenario (--procs P): holds a share of the chat's sockets with the OFFICIAL
// socket.io-client (same connect options and auth as the in-process path, bench/lib/common.mjs connectAll), so
// the load generator's event loop is spread over P processes and its lag stays out of the measured latencies.
// The parent (load.mjs) keeps the pacing, the per-message records, the loss/duplicate accounting and the history
// check; this process only emits what it is told, times it, and reports back in batches. Driven over IPC:
//   {cmd:"connect", url, users:[{ui, auth}], localAddresses, concurrency} → {type:"connected", ...}
//   {cmd:"send", items:[[ui, nonce, channelId, content]...]} → acks come back in "batch" messages
//   {cmd:"mark"}  → {type:"marked"} (CPU and event-loop baseline of a step)
//   {cmd:"stats"} → pending batch, then {type:"stats", cpuS, seconds, elP99Ms, elMaxMs}
//   {cmd:"flush"} → pending batch, then {type:"flushed"}
//   {cmd:"close"} → closes every socket, {type:"closed"}, exits
// Every 50 ms (and before answering stats/flush) it sends one {type:"batch"} with what happened since the last:
// acks [[nonce, status 1 ok / 2 refused / 3 ack timeout, t0 abs ms, ack ms, id, code, badAck]], deliveries
// (nonces, channelIds, receiving user indices as Int32Array, receive times abs ms as Float64Array), the non-message
// events counted as countEvents counts them, and disconnects. Times are absolute (performance.timeOrigin +
// performance.now(): sub-ms and comparable between processes on one machine), so the parent can subtract a
// receive time taken here from a send time taken in another worker.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { connectAll, countEvents } from "./common.mjs";

const abs = () => performance.timeOrigin + performance.now();
const send = (m) => process.connected && process.send(m);
const ACK_TIMEOUT_MS = 30_000; // as runSteps' in-process path

const socks = new Map(); // user index → socket
let acks = [];
let dl = { nonces: [], chans: [], ui: [], t: [] };
let downs = [];
const ev = { other: {}, presenceEntries: 0, online: new Set(), lastOther: 0 };
let onlineSent = 0;
const el = monitorEventLoopDelay({ resolution: 10 });
let mark = null;

function flush() {
  const m = { type: "batch" };
  let any = false;
  if (acks.length) (m.acks = acks), (acks = []), (any = true);
  if (dl.nonces.length) {
    // Typed arrays: with serialization "advanced" they cross the channel as bytes, not JSON.
    m.dl = { nonces: dl.nonces, chans: dl.chans, ui: Int32Array.from(dl.ui), t: Float64Array.from(dl.t) };
    dl = { nonces: [], chans: [], ui: [], t: [] };
    any = true;
  }
  if (downs.length) (m.downs = downs), (downs = []), (any = true);
  if (Object.keys(ev.other).length || ev.presenceEntries || ev.online.size !== onlineSent) {
    // Deltas of the counts (the parent adds them up); the online set whole, only when it grew.
    m.ev = { other: ev.other, presenceEntries: ev.presenceEntries, online: ev.online.size !== onlineSent ? [...ev.online] : null, lastOther: performance.timeOrigin + ev.lastOther };
    onlineSent = ev.online.size;
    ev.other = {};
    ev.presenceEntries = 0;
    any = true;
  }
  if (any) send(m);
}
setInterval(flush, 50).unref();

async function connect({ url, users, localAddresses, concurrency }) {
  const t0 = performance.now();
  const retries = {};
  const socksList = await connectAll(url, users.map((u) => u.auth), { concurrency, localAddresses, retries, onSocket: countEvents(ev) });
  socksList.forEach((s, j) => {
    const ui = users[j].ui;
    socks.set(ui, s);
    s.on("message:new", (m) => {
      dl.nonces.push(m.nonce);
      dl.chans.push(m.channelId);
      dl.ui.push(ui);
      dl.t.push(abs());
    });
    s.on("disconnect", (reason) => downs.push([ui, reason]));
  });
  send({ type: "connected", connected: socksList.length, retries, ms: performance.now() - t0 });
}

function emit([ui, nonce, channelId, content]) {
  const t0 = abs();
  socks.get(ui).timeout(ACK_TIMEOUT_MS).emit("message:send", { channelId, content, nonce }, (err, res) => {
    const ms = abs() - t0;
    if (err) return acks.push([nonce, 3, t0, ms, null, null, 0]);
    if (res && res.ok) {
      const bad = res.message.nonce !== nonce || res.message.channelId !== channelId ? 1 : 0;
      return acks.push([nonce, 1, t0, ms, res.message.id, null, bad]);
    }
    acks.push([nonce, 2, t0, ms, null, (res && res.error && res.error.code) || "malformed_ack", 0]);
  });
}

process.on("message", (m) => {
  const fail = (err) => send({ type: "error", message: String(err && err.stack ? err.stack : err) });
  try {
    if (m.cmd === "send") for (const it of m.items) emit(it);
    else if (m.cmd === "connect") connect(m).catch(fail);
    else if (m.cmd === "mark") {
      mark = { cpu: process.cpuUsage(), t: performance.now() };
      el.reset();
      el.enable();
      send({ type: "marked" });
    } else if (m.cmd === "stats") {
      flush();
      el.disable();
      const cpu = process.cpuUsage(mark.cpu);
      send({ type: "stats", cpuS: (cpu.user + cpu.system) / 1e6, seconds: (performance.now() - mark.t) / 1000, elP99Ms: el.percentile(99) / 1e6, elMaxMs: el.max / 1e6 });
    } else if (m.cmd === "flush") {
      flush();
      send({ type: "flushed" });
    } else if (m.cmd === "close") {
      for (const s of socks.values()) s.close();
      send({ type: "closed" });
      setTimeout(() => process.exit(0), 200);
    }
  } catch (err) {
    fail(err);
  }
});
process.on("disconnect", () => process.exit(0)); // the parent is gone
setTimeout(() => process.exit(3), 60 * 60 * 1000).unref(); // never outlive an hour
