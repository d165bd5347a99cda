// A child process of the connections scenario: holds a share of the idle sockets (a process may have at most
// `ulimit -n` open files, 20,000 here, so 20,000 sockets need several processes). Driven over IPC by load.mjs:
//   {cmd:"connect", url, auths, localAddresses, concurrency} → progress messages, then {type:"connected"}
//   {cmd:"report"} → {type:"report", open, disconnects, reasons, pings...}
//   {cmd:"close"}  → closes every socket, {type:"closed"}, exits
import { connectRetry, now } from "./common.mjs";

const socks = [];
const reasons = {};
let disconnects = 0;
let failed = 0;
const errors = {};
const retries = {};
const ages = []; // ms from connect to disconnect, for the first disconnects
let pingsTotal = 0;

function send(m) {
  if (process.connected) process.send(m);
}

async function connect({ url, auths, localAddresses, concurrency }) {
  const t0 = now();
  let next = 0;
  let lastReport = now();
  const one = async () => {
    while (next < auths.length) {
      const i = next++;
      try {
        const s = await connectRetry(url, auths[i], { localAddress: localAddresses[i % localAddresses.length] }, retries);
        s.pings = 0;
        s.connectedAt = now();
        s.io.engine.on("ping", () => {
          s.pings++;
          pingsTotal++;
        });
        s.on("disconnect", (reason) => {
          disconnects++;
          if (ages.length < 50) ages.push(Math.round(now() - s.connectedAt));
          reasons[reason] = (reasons[reason] || 0) + 1;
        });
        socks.push(s);
      } catch (err) {
        failed++;
        const k = String(err.message).slice(0, 80);
        errors[k] = (errors[k] || 0) + 1;
      }
      if (now() - lastReport > 500) {
        lastReport = now();
        send({ type: "progress", connected: socks.length, failed, retries });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, auths.length) }, one));
  send({ type: "connected", connected: socks.length, failed, errors, retries, ms: now() - t0 });
}

function report() {
  let pmin = Infinity;
  let pmax = 0;
  let open = 0;
  for (const s of socks) {
    if (s.connected) open++;
    pmin = Math.min(pmin, s.pings);
    pmax = Math.max(pmax, s.pings);
  }
  send({ type: "report", open, disconnects, reasons, ages, pingsMin: socks.length ? pmin : 0, pingsMax: pmax, pingsTotal, memMB: process.memoryUsage().rss / 1048576 });
}

process.on("message", (m) => {
  if (m.cmd === "connect") connect(m).catch((err) => send({ type: "error", message: String(err) }));
  else if (m.cmd === "report") report();
  else if (m.cmd === "close") {
    for (const s of socks) s.close();
    send({ type: "closed" });
    setTimeout(() => process.exit(0), 200);
  }
});
process.on("disconnect", () => process.exit(0)); // the parent is gone
setTimeout(() => process.exit(3), 60 * 60 * 1000).unref(); // never outlive an hour
