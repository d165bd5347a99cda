#!/usr/bin/env node
// Turns one run's scenario files (bench/results/<run>/<scenario>-<target>.json) into results.json (everything),
// results.md (tables) and chart.svg (hand-written SVG). Usage: node bench/report.mjs bench/results/<run>
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  process.stderr.write("usage: node bench/report.mjs bench/results/<run>\n");
  process.exit(2);
}
const readJSON = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) : null);
const machine = readJSON("machine.json") || {};
const after = readJSON("after.json") || {};
const runs = {};
for (const f of readdirSync(dir)) {
  const m = f.match(/^(connections|chat|fanout|history)-(ours|peer)\.json$/);
  if (m) runs[`${m[1]}-${m[2]}`] = readJSON(f);
}
const get = (s, t) => runs[`${s}-${t}`];

const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? "–" : typeof x === "number" ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 }) : String(x));
const int = (x) => fmt(x, 0);
const ratio = (a, b) => (a && b ? `${fmt(a / b, 2)}×` : "–");
const errs = (e) => {
  const s = Object.entries(e || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  return s || "0";
};
const name = { ours: "Parley (Go)", peer: "peer (Node socket.io)" };

const md = [];
md.push(`# Benchmark results ${machine.runId || ""}`, "");
md.push(`Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memTotalGB} GB RAM, Linux ${machine.kernel}; ` +
  `${machine.go}, Node ${machine.node}, ${machine.java}; Cassandra ${machine.cassandra} (commitlog_sync ${machine.commitlogSync}); ` +
  `socket.io-client ${machine.socketioClient}, peer socket.io ${machine.peerSocketio}; open-files limit ${machine.openFilesLimit}.`, "");
md.push(`Load average before: ${machine.loadBefore}; after: ${after.loadAfter || "?"} (other work shares the machine). ` +
  `Run took ${fmt(after.seconds, 0)} s. Server settings: ${machine.settings}.`, "");
if (machine.note) md.push(`Note: ${machine.note}`, "");

// Summary.
md.push("## Summary", "", "| scenario | target | result | server CPU s | server peak RSS MB | Cassandra CPU s | wall s |", "|---|---|---|---:|---:|---:|---:|");
for (const s of ["connections", "fanout", "chat", "history"]) {
  for (const t of ["ours", "peer"]) {
    const r = get(s, t);
    if (!r) continue;
    const tot = r.total || {};
    md.push(`| ${s} | ${name[t]} | ${r.skipped ? "skipped" : r.pass ? "pass" : "**FAIL**"} | ${fmt(tot.server && tot.server.cpuS, 2)} | ` +
      `${fmt(tot.server && tot.server.peakRssMB)} | ${fmt(tot.cassandra && tot.cassandra.cpuS, 2)} | ${fmt(r.seconds, 0)} |`);
  }
}
const failures = Object.values(runs).flatMap((r) => (r.failures || []).map((f) => `${r.scenario}/${r.target}: ${f}`).concat(r.error ? [`${r.scenario}/${r.target}: ${r.error.split("\n")[0]}`] : []));
if (failures.length) md.push("", "Failures:", ...failures.map((f) => `- ${f}`));
md.push("", "Server CPU and peak RSS cover the whole scenario (setup included); Cassandra CPU is the database process, for Parley only.", "");

// Connections.
const co = get("connections", "ours");
const cp = get("connections", "peer");
if (co || cp) {
  md.push("## Idle connections", "", "| target | connections | failed | connect s | connects/s | server CPU ms per connect | RSS before MB | RSS connected MB | KB per connection | hold s | disconnects in hold | pings per socket (min) | server CPU s in hold |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [t, r] of [["ours", co], ["peer", cp]]) {
    if (!r || r.connected === undefined) continue;
    md.push(`| ${name[t]} | ${int(r.connected)} | ${int(r.failed)} | ${fmt(r.connectS)} | ${int(r.connectsPerS)} | ${fmt(r.cpuMsPerConnect, 2)} | ${fmt(r.rssBeforeMB)} | ${fmt(r.rssConnectedMB)} | ${fmt(r.rssPerConnKB)} | ${int(r.holdS)} | ${int(r.disconnectsDuringHold)} | ${int(r.pingsPerSocketMin)} | ${fmt(r.serverCpuHoldS, 2)} |`);
  }
  for (const [t, r] of [["ours", co], ["peer", cp]]) {
    if (r && r.disconnectsDuringHold) md.push("", `${name[t]}: ${int(r.disconnectsDuringHold)} sockets were closed during the hold (${errs(r.disconnectReasons)}), at ${(r.disconnectAgesMs || []).map((a) => fmt(a / 1000)).join(", ")} s after they had connected.`);
    const nr = r ? r.connectRetries : 0;
    if (nr) md.push("", `${name[t]}: ${int(nr)} handshakes were retried (${errs(r.connectRetryReasons)}).`);
  }
  if (co && cp && co.rssPerConnKB > 0 && cp.rssPerConnKB > 0) md.push("", `RSS per connection, ours / peer: **${ratio(co.rssPerConnKB, cp.rssPerConnKB)}**.`);
  md.push("");
}

// Fan-out.
const fo = get("fanout", "ours");
const fp = get("fanout", "peer");
if (fo || fp) {
  const K = (fo || fp).params.members;
  md.push(`## Fan-out: one channel, ${int(K)} members, one sender`, "", "| target | msg/s offered | msg/s sent | deliveries/s | deliver p50 / p99 / max ms | ack p50 / p99 ms | undelivered at step end | dup | server CPU s | server µs CPU per delivery | deliveries per server CPU-s | Cassandra CPU s |", "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|");
  for (const [t, r] of [["ours", fo], ["peer", fp]]) {
    for (const s of (r && r.steps) || []) {
      md.push(`| ${name[t]} | ${int(s.rate)} | ${fmt(s.achievedRate)} | ${int(s.deliveriesPerS)} | ${fmt(s.deliver.p50)} / ${fmt(s.deliver.p99)} / ${fmt(s.deliver.max)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p99)} | ${int(s.undeliveredAtStepEnd)} | ${int(s.duplicateDeliveries)} | ${fmt(s.serverCpuS, 2)} | ${fmt(s.serverCpuUsPerDelivery, 2)} | ${int(s.deliveriesPerCpuS)} | ${fmt(s.cassandraCpuS, 2)} |`);
    }
  }
  if (fo && fp && fo.steps && fp.steps) {
    md.push("", "| msg/s | deliveries per server CPU-s, ours / peer |", "|---:|---:|");
    for (const s of fo.steps) {
      const p = fp.steps.find((x) => x.rate === s.rate);
      if (p) md.push(`| ${int(s.rate)} | **${ratio(s.deliveriesPerCpuS, p.deliveriesPerCpuS)}** |`);
    }
  }
  for (const [t, r] of [["ours", fo], ["peer", fp]]) if (r) md.push("", setupLine(t, r), ...(r.notes || []).map((n) => `- ${n}`));
  if (fo && fo.history) md.push("", historyLine(fo.history));
  md.push("");
}

function setupLine(t, r) {
  const d = r.delivery || {};
  const ev = Object.entries(r.setupEvents || {}).filter(([k]) => k !== "waitedS").map(([k, v]) => `${k} ${int(v)}`).join(", ");
  const retries = Object.values(r.connectRetries || {}).reduce((a, b) => a + b, 0);
  return `${name[t]}: after settling, lost deliveries ${int(d.lostDeliveries)}, missed by sockets the server closed ${int(d.missedByDisconnectedSockets)}, duplicates ${int(d.duplicateDeliveries)}, announced although refused ${int(d.announcedButRefused)}, announced but ack timed out ${int(d.announcedButAckTimedOut)}; ` +
    `events received while connecting: ${ev || "none"} (settled in ${fmt(r.setupEvents && r.setupEvents.waitedS)} s); connects retried ${int(retries)}.`;
}

function historyLine(h) {
  return `History check (Parley): ${int(h.acknowledged)} acknowledged messages in ${int(h.channels)} channels — missing ${int(h.missing)}, duplicate ids ${int(h.duplicateIds)}, duplicate nonces ${int(h.duplicateNonces)}, stored but never acknowledged ${int(h.storedButNotAcknowledged)}.`;
}

// Chat.
for (const t of ["ours", "peer"]) {
  const r = get("chat", t);
  if (!r || !r.steps) continue;
  const p = r.params;
  md.push(`## Chat (${name[t]}): ${int(p.users)} users in ${int(p.channels)} channels, ${p.durationS} s per rate, ${p.size}-byte messages`, "");
  md.push("| msg/s offered | msg/s sent | acked | refused | ack timeouts | send→ack p50 / p95 / p99 / max ms | send→deliver p50 / p95 / p99 / max ms | deliveries/s | undelivered at step end | dup | server CPU s | Cassandra CPU s | loadgen event-loop p99 ms |", "|---:|---:|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|");
  for (const s of r.steps) {
    md.push(`| ${int(s.rate)} | ${fmt(s.achievedRate)} | ${int(s.acked)} | ${errs(s.errors)} | ${int(s.ackTimeouts)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p95)} / ${fmt(s.ack.p99)} / ${fmt(s.ack.max)} | ${fmt(s.deliver.p50)} / ${fmt(s.deliver.p95)} / ${fmt(s.deliver.p99)} / ${fmt(s.deliver.max)} | ${int(s.deliveriesPerS)} | ${int(s.undeliveredAtStepEnd)} | ${int(s.duplicateDeliveries)} | ${fmt(s.serverCpuS, 2)} | ${fmt(s.cassandraCpuS, 2)} | ${fmt(s.monitor.loadgen.eventLoopDelayP99Ms)} |`);
  }
  md.push("", `Highest offered rate with p99 send→deliver < 100 ms (and no refusals or loss): **${r.bestRateP99Under100ms ? int(r.bestRateP99Under100ms) + " msg/s" : "none"}**.`);
  md.push("", setupLine(t, r));
  if (r.history) md.push("", historyLine(r.history));
  if (r.notes && r.notes.length) md.push("", ...r.notes.map((n) => `- ${n}`));
  md.push("");
}

// History.
const ho = get("history", "ours");
if (ho && ho.newest) {
  md.push(`## History reads (Parley): GET a page of 50, ${int(ho.params.reads)} sequential reads each`, "", "| page | p50 ms | p95 ms | p99 ms | max ms | reads/s | server µs CPU per read | wrong pages | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [label, x] of [["newest (in-memory window)", ho.newest], ["older, past the window (Cassandra)", ho.older]]) {
    md.push(`| ${label} | ${fmt(x.p50, 2)} | ${fmt(x.p95, 2)} | ${fmt(x.p99, 2)} | ${fmt(x.max, 2)} | ${int(x.readsPerS)} | ${fmt(x.serverCpuUsPerRead, 0)} | ${int(x.wrongPages)} | ${int(x.errors)} |`);
  }
  md.push("");
}
md.push("![chart](chart.svg)", "");

// ------------------------------------------------------------------------------------------------------ chart
const W = 1260;
const H = 440;
const svg = [];
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
svg.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
svg.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Parley benchmarks ${esc(machine.runId || "")} — ${machine.cores} cores, load ${esc(machine.loadBefore || "?")}</text>`);
const colors = { ours: "#1f6feb", peer: "#d9480f", ack: "#2b8a3e", p99: "#1f6feb", p50: "#74a9f7" };

function panel(x0, title, fn) {
  const pw = 380;
  const ph = 300;
  const px = x0 + 55;
  const py = 70;
  svg.push(`<text x="${x0 + 20 + pw / 2}" y="50" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  svg.push(`<rect x="${px}" y="${py}" width="${pw - 60}" height="${ph}" fill="none" stroke="#888"/>`);
  fn({ px, py, pw: pw - 60, ph });
}
function noData(b) {
  svg.push(`<text x="${b.px + b.pw / 2}" y="${b.py + b.ph / 2}" text-anchor="middle" fill="#888">not run</text>`);
}

// Panel 1: chat latency percentiles against the offered rate (log y).
const chat = get("chat", "ours");
panel(0, "Chat (Parley): latency vs offered rate", (b) => {
  if (!chat || !chat.steps || !chat.steps.length) return noData(b);
  const steps = chat.steps;
  const xs = steps.map((s) => s.rate);
  const ys = steps.flatMap((s) => [s.ack.p50, s.ack.p99, s.deliver.p50, s.deliver.p99]).filter((v) => v > 0);
  const ymin = Math.max(0.1, Math.pow(10, Math.floor(Math.log10(Math.min(...ys, 100)))));
  const ymax = Math.pow(10, Math.ceil(Math.log10(Math.max(...ys, 100))));
  const X = (i) => b.px + (xs.length === 1 ? b.pw / 2 : 20 + (i * (b.pw - 40)) / (xs.length - 1));
  const Y = (v) => b.py + b.ph - ((Math.log10(Math.max(v, ymin)) - Math.log10(ymin)) / (Math.log10(ymax) - Math.log10(ymin))) * b.ph;
  for (let d = Math.log10(ymin); d <= Math.log10(ymax) + 1e-9; d++) {
    const v = Math.pow(10, d);
    svg.push(`<line x1="${b.px}" x2="${b.px + b.pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${b.px - 6}" y="${Y(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(1)}</text>`);
  }
  svg.push(`<line x1="${b.px}" x2="${b.px + b.pw}" y1="${Y(100)}" y2="${Y(100)}" stroke="#c92a2a" stroke-dasharray="5,4"/><text x="${b.px + b.pw - 4}" y="${Y(100) - 4}" text-anchor="end" fill="#c92a2a">100 ms</text>`);
  xs.forEach((x, i) => svg.push(`<text x="${X(i)}" y="${b.py + b.ph + 16}" text-anchor="middle">${x}</text>`));
  svg.push(`<text x="${b.px + b.pw / 2}" y="${b.py + b.ph + 34}" text-anchor="middle">offered msg/s (${chat.params.users} users, ${chat.params.channels} channels)</text>`);
  svg.push(`<text transform="translate(${b.px - 40},${b.py + b.ph / 2}) rotate(-90)" text-anchor="middle">ms (log scale)</text>`);
  const series = [
    ["send→deliver p99", (s) => s.deliver.p99, colors.p99, ""],
    ["send→deliver p50", (s) => s.deliver.p50, colors.p50, ""],
    ["send→ack p99", (s) => s.ack.p99, colors.ack, "6,3"],
    ["send→ack p50", (s) => s.ack.p50, "#8ce99a", "6,3"],
  ];
  series.forEach(([label, f, c, dash], k) => {
    const pts = steps.map((s, i) => [X(i), f(s)]).filter(([, v]) => v > 0).map(([x, v]) => `${x.toFixed(1)},${Y(v).toFixed(1)}`);
    svg.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${c}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ""}/>`);
    for (const p of pts) svg.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${c}"/>`);
    svg.push(`<line x1="${b.px + 10}" x2="${b.px + 30}" y1="${b.py + 14 + k * 16}" y2="${b.py + 14 + k * 16}" stroke="${c}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ""}/><text x="${b.px + 34}" y="${b.py + 18 + k * 16}">${label}</text>`);
  });
});

// Bars helper for panels 2 and 3.
function bars(b, groups, unit, fmtV) {
  // groups: [{label, ours, peer}]
  const vals = groups.flatMap((g) => [g.ours, g.peer]).filter((v) => v > 0);
  if (!vals.length) return noData(b);
  const vmax = Math.max(...vals) * 1.4;
  const Y = (v) => b.py + b.ph - (v / vmax) * b.ph;
  const gw = b.pw / groups.length;
  for (let k = 0; k <= 4; k++) {
    const v = (vmax / 4) * k;
    svg.push(`<line x1="${b.px}" x2="${b.px + b.pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${b.px - 6}" y="${Y(v) + 4}" text-anchor="end">${fmtV(v)}</text>`);
  }
  groups.forEach((g, i) => {
    const x = b.px + i * gw;
    const bw = Math.min(40, gw / 3);
    [["ours", g.ours], ["peer", g.peer]].forEach(([t, v], j) => {
      if (!(v > 0)) return;
      const bx = x + gw / 2 - bw + j * bw;
      svg.push(`<rect x="${bx}" y="${Y(v)}" width="${bw - 2}" height="${b.py + b.ph - Y(v)}" fill="${colors[t]}"/>`);
      svg.push(`<text x="${bx + bw / 2 - 1}" y="${Y(v) - 4}" text-anchor="middle" font-size="10">${fmtV(v)}</text>`);
    });
    svg.push(`<text x="${x + gw / 2}" y="${b.py + b.ph + 16}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  svg.push(`<text x="${b.px + b.pw / 2}" y="${b.py + b.ph + 34}" text-anchor="middle">${esc(unit)}</text>`);
  [["ours", "Parley (Go)"], ["peer", "peer (Node socket.io)"]].forEach(([t, label], k) => {
    svg.push(`<rect x="${b.px + b.pw - 160}" y="${b.py + 8 + k * 16}" width="12" height="12" fill="${colors[t]}"/><text x="${b.px + b.pw - 142}" y="${b.py + 18 + k * 16}">${label}</text>`);
  });
}
const kfmt = (v) => (v >= 10000 ? `${Math.round(v / 1000)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v >= 10 ? `${Math.round(v)}` : v.toFixed(1));

panel(420, `Fan-out: deliveries per server CPU-second${fo || fp ? ` (K=${(fo || fp).params.members})` : ""}`, (b) => {
  const rates = [...new Set([...(fo?.steps || []), ...(fp?.steps || [])].map((s) => s.rate))].sort((a, c) => a - c);
  const groups = rates.map((rate) => ({
    label: `${rate} msg/s`,
    ours: fo?.steps?.find((s) => s.rate === rate)?.deliveriesPerCpuS,
    peer: fp?.steps?.find((s) => s.rate === rate)?.deliveriesPerCpuS,
  }));
  bars(b, groups, "sender rate (Parley's CPU excludes Cassandra's)", kfmt);
});
panel(840, "Idle connections: server RSS per connection", (b) => {
  const groups = [];
  if (co || cp) groups.push({ label: `${int((co || cp).connected)} connections`, ours: co?.rssPerConnKB, peer: cp?.rssPerConnKB });
  bars(b, groups, "KB of server RSS per connection", (v) => v.toFixed(1));
});
svg.push(`<text x="10" y="${H - 10}" font-size="10" fill="#666">Parley acknowledges and announces a message only after it is stored in Cassandra (group commit, 10 ms window); the peer keeps nothing. Loopback only; load generator on the same 2 cores.</text>`);
svg.push("</svg>");

writeFileSync(join(dir, "chart.svg"), svg.join("\n") + "\n");
writeFileSync(join(dir, "results.md"), md.join("\n"));
writeFileSync(join(dir, "results.json"), JSON.stringify({ machine, after, runs }, null, 2) + "\n");
process.stdout.write(md.join("\n") + "\n");
