#!/usr/bin/env node
// Turns one run's scenario files (bench/results/<run>/<label>.json, one per scenario run: e.g. connections-ours,
// fanout-one-peer-r2, presence-ours) into results.json (everything), results.md (tables) and chart.svg
// (hand-written SVG), and prints results.md followed by the headline figures. Usage: node bench/report.mjs DIR
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  process.stderr.write("usage: node bench/report.mjs bench/results/<run>\n");
  process.exit(2);
}
const readJSON = (f) => {
  try {
    return existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) : null;
  } catch {
    return null;
  }
};
const machine = readJSON("machine.json") || {};
const after = readJSON("after.json") || {};
const all = [];
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith(".json") || ["machine.json", "after.json", "results.json"].includes(f) || f.startsWith("world-")) continue;
  const r = readJSON(f);
  if (r && r.scenario) all.push({ ...r, label: f.replace(/\.json$/, "") });
}
all.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt))); // the order they ran in
const runsOf = (s, t, v) => all.filter((r) => r.scenario === s && (!t || r.target === t) && (v === undefined || r.variant === v));
const get = (s, t) => runsOf(s, t)[0];

const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? "–" : typeof x === "number" ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 }) : String(x));
const int = (x) => fmt(x, 0);
const ratio = (a, b) => (a && b ? `${fmt(a / b, 2)}×` : "–");
const errs = (e) => {
  const s = Object.entries(e || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  return s || "0";
};
const median = (xs) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const spread = (xs, d = 2, unit = "", fixed = false) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x));
  if (!v.length) return "–";
  const f = fixed ? (x) => x.toFixed(d) : (x) => fmt(x, d);
  const m = median(v);
  return v.length === 1 ? `${f(m)}${unit}` : `${f(m)}${unit} (${f(Math.min(...v))}–${f(Math.max(...v))})`;
};
const name = { ours: "Parley (Go)", peer: "peer (Node socket.io)" };
const cpu = (m, k) => (m && m[k] ? m[k].cpuS : null);

const md = [];
const headline = [];
md.push(`# Benchmark results ${machine.runId || ""}`, "");
md.push(`Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memTotalGB} GB RAM, Linux ${machine.kernel}; ` +
  `${machine.go}, Node ${machine.node}, ${machine.java}; Cassandra ${machine.cassandra} (commitlog_sync ${machine.commitlogSync}); ` +
  `socket.io-client ${machine.socketioClient}, peer socket.io ${machine.peerSocketio}; open-files limit ${machine.openFilesLimit}.`, "");
md.push(`Command: \`${machine.command || "?"}\`. Load average before: ${machine.loadBefore}; after: ${after.loadAfter || "?"} (other work shares the machine). ` +
  `Run took ${fmt(after.seconds, 0)} s. Server settings: ${machine.settings}.`, "");
if (machine.note) md.push(`Note: ${machine.note}`, "");

// Summary.
md.push("## Summary", "", "Every scenario run on a freshly started server process. CPU is utime+stime from /proc over the whole run (setup included); " +
  "the load generator's is its own processes' (it shares the machine's cores with the servers and databases). " +
  "MongoDB CPU is FerretDB's own process (the MongoDB stand-in here); the PostgreSQL backends it uses are not in it but in the PostgreSQL figure, " +
  "which covers the postmaster's whole process tree.", "",
  "| run | scenario | target | result | server CPU s | server peak RSS MB | Cassandra CPU s | MongoDB CPU s | load generator CPU s | wall s |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of all) {
  const tot = r.total || {};
  md.push(`| ${r.label} | ${r.scenario}${r.variant ? ` (${r.variant})` : ""} | ${name[r.target]} | ${r.skipped ? "skipped" : r.pass ? "pass" : "**FAIL**"} | ${fmt(cpu(tot, "server"), 2)} | ` +
    `${fmt(tot.server && tot.server.peakRssMB)} | ${fmt(cpu(tot, "cassandra"), 2)} | ${fmt(cpu(tot, "mongo"), 2)} | ${fmt(tot.loadgen && tot.loadgen.cpuS, 2)} | ${fmt(r.seconds, 0)} |`);
}
const failures = all.flatMap((r) => (r.failures || []).map((f) => `${r.label}: ${f}`).concat(r.error ? [`${r.label}: ${r.error.split("\n")[0]}`] : []));
if (failures.length) md.push("", "Failures:", ...failures.map((f) => `- ${f}`));
md.push("");

// ----------------------------------------------------------------------------------------------------- fan-out
const variants = [...new Set(runsOf("fanout").map((r) => r.variant || "one"))];
const vOrder = ["one", "rooms", "large"];
variants.sort((a, b) => vOrder.indexOf(a) - vOrder.indexOf(b));
const variantText = (r) => {
  const p = r.params;
  return p.rooms > 1 ? `${int(p.rooms)} rooms of ${int(p.membersPerRoom)}, ${int(p.size)}-byte messages` : `${int(p.members)} members in one room, ${int(p.size)}-byte messages`;
};
const fanSummary = []; // for the chart: {variant, ours, peer}
if (variants.length) {
  md.push("## Fan-out", "", "One sender per room, open loop; a step's CPU and deliveries run from its first send until every delivery " +
    "arrived. Parley's server CPU is the Go process alone (Cassandra apart: one write per message, not per delivery). " +
    "Ratios are paired per repeat: repeat r of Parley against repeat r of the peer (interleaved, each on a fresh process).", "");
  md.push("### Deliveries per server CPU-second, ours / peer (target ≥ 2.0×)", "",
    "| variant | msg/s per room | offered deliveries/s | ratio per repeat | median (min–max) | Parley deliveries per CPU-s, median | peer, median | ≥ 2.0× |",
    "|---|---:|---:|---|---|---:|---:|---|");
  for (const v of variants) {
    const ours = runsOf("fanout", "ours", v);
    const peer = runsOf("fanout", "peer", v);
    const any = ours[0] || peer[0];
    const rates = [...new Set([...ours, ...peer].flatMap((r) => (r.steps || []).map((s) => s.rate)))].sort((a, b) => a - b);
    for (const rate of rates) {
      const stepOf = (r) => (r.steps || []).find((s) => s.rate === rate);
      const pairs = [];
      for (const o of ours) {
        const p = peer.find((x) => x.repeat === o.repeat);
        const so = stepOf(o);
        const sp = p && stepOf(p);
        if (so && sp && so.deliveriesPerCpuS && sp.deliveriesPerCpuS) pairs.push({ repeat: o.repeat, ratio: so.deliveriesPerCpuS / sp.deliveriesPerCpuS });
      }
      const rs = pairs.map((x) => x.ratio);
      const oM = median(ours.map((r) => stepOf(r)?.deliveriesPerCpuS));
      const pM = median(peer.map((r) => stepOf(r)?.deliveriesPerCpuS));
      const offered = median([...ours, ...peer].map((r) => stepOf(r)?.offeredDeliveriesPerS));
      const met = rs.length ? (Math.min(...rs) >= 2 ? "yes, every pair" : median(rs) >= 2 ? "median only" : "no") : "–";
      md.push(`| ${v}: ${variantText(any)} | ${int(rate)} | ${int(offered)} | ${pairs.map((x) => `r${x.repeat} ${x.ratio.toFixed(2)}×`).join(", ") || "–"} | ` +
        `**${spread(rs, 2, "×", true)}** | ${int(oM)} | ${int(pM)} | ${met} |`);
      if (rate === rates[0]) fanSummary.push({ variant: v, ours: oM, peer: pM });
      headline.push(`fan-out ${v} (${variantText(any)}, ${int(rate)} msg/s per room, ${int(offered)} deliveries/s offered): ` +
        `deliveries per server CPU-s ours/peer ${spread(rs, 2, "×", true)} over ${rs.length} pair(s) [target ≥ 2.0×]`);
    }
  }
  md.push("", "### Latency, loss and CPU per step (median over repeats, min–max in brackets)", "",
    "| variant | target | msg/s per room | runs | send→deliver p50 ms | send→deliver p99 ms | p99 < 50 ms | lost | dup | missed by sockets the server closed | server CPU s | load generator CPU s | Cassandra CPU s | MongoDB CPU s |",
    "|---|---|---:|---:|---|---|---|---:|---:|---:|---|---|---|---|");
  for (const v of variants) {
    for (const t of ["ours", "peer"]) {
      const rs = runsOf("fanout", t, v);
      if (!rs.length) continue;
      const rates = [...new Set(rs.flatMap((r) => (r.steps || []).map((s) => s.rate)))].sort((a, b) => a - b);
      for (const rate of rates) {
        const steps = rs.map((r) => (r.steps || []).find((s) => s.rate === rate)).filter(Boolean);
        const p99s = steps.map((s) => s.deliver.p99);
        const under = p99s.filter((x) => x !== null && x < 50).length;
        const lost = rs.reduce((a, r) => a + ((r.delivery && r.delivery.lostDeliveries) || 0), 0);
        const dup = steps.reduce((a, s) => a + (s.duplicateDeliveries || 0), 0);
        const closed = rs.reduce((a, r) => a + ((r.delivery && r.delivery.missedByDisconnectedSockets) || 0), 0);
        md.push(`| ${v} | ${name[t]} | ${int(rate)} | ${steps.length} | ${spread(steps.map((s) => s.deliver.p50), 1)} | ${spread(p99s, 1)} | ${under} of ${steps.length} | ` +
          `${int(lost)} | ${int(dup)} | ${int(closed)} | ${spread(steps.map((s) => s.serverCpuS), 2)} | ${spread(steps.map((s) => s.loadgenCpuS), 2)} | ${t === "ours" ? spread(steps.map((s) => s.cassandraCpuS), 2) : "–"} | ${t === "ours" ? spread(steps.map((s) => s.mongoCpuS), 2) : "–"} |`);
        const offered = median(steps.map((s) => s.offeredDeliveriesPerS));
        const target = t !== "ours" ? "" : Math.abs(offered - 20000) < 1000 ? ` [target p99 < 50 ms at 20,000/s: ${under} of ${steps.length} runs under]` : " (the p99 < 50 ms target is set for 20,000/s)";
        headline.push(`fan-out ${v} on ${t}, ${int(offered)} deliveries/s: send→deliver p50 ${spread(steps.map((s) => s.deliver.p50), 1, " ms")}, ` +
          `p99 ${spread(p99s, 1, " ms")}${target}; lost ${int(lost)}, duplicates ${int(dup)}; ` +
          `server CPU ${spread(steps.map((s) => s.serverCpuS), 2, " s")}, load generator CPU ${spread(steps.map((s) => s.loadgenCpuS), 2, " s")} per step`);
      }
    }
  }
  md.push("", "### Every fan-out run", "",
    "| run | msg/s per room | msg/s sent | deliveries/s | deliver p50 / p99 / max ms | ack p50 / p99 ms | undelivered at step end | dup | server CPU s | µs server CPU per delivery | deliveries per server CPU-s | load generator CPU s (event-loop p99 ms) | Cassandra CPU s | MongoDB CPU s |",
    "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|");
  for (const r of runsOf("fanout")) {
    for (const s of r.steps || []) {
      md.push(`| ${r.label} | ${int(s.rate)} | ${fmt(s.achievedRate)} | ${int(s.deliveriesPerS)} | ${fmt(s.deliver.p50)} / ${fmt(s.deliver.p99)} / ${fmt(s.deliver.max)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p99)} | ` +
        `${int(s.undeliveredAtStepEnd)} | ${int(s.duplicateDeliveries)} | ${fmt(s.serverCpuS, 2)} | ${fmt(s.serverCpuUsPerDelivery, 2)} | ${int(s.deliveriesPerCpuS)} | ` +
        `${fmt(s.loadgenCpuS, 2)} (${fmt(s.monitor && s.monitor.loadgen.eventLoopDelayP99Ms)}) | ${fmt(s.cassandraCpuS, 2)} | ${fmt(s.mongoCpuS, 2)} |`);
    }
  }
  md.push("", "Setting up each run (connecting every member, then waiting until connect-time events such as presence stop):", "",
    "| run | connect s | until quiet s | server CPU s | load generator CPU s | events received (presence entries) | presence events during the steps | connects retried | lost / closed-socket misses / dup |", "|---|---:|---:|---:|---:|---|---:|---:|---|");
  for (const r of runsOf("fanout")) {
    const su = r.setup || {};
    const ev = Object.entries(r.setupEvents || {}).filter(([k]) => !["waitedS", "presenceEntries", "onlineAnnounced"].includes(k)).map(([k, v]) => `${k} ${int(v)}`).join(", ");
    const d = r.delivery || {};
    const late = (r.steps || []).reduce((a, s) => a + ((s.otherEvents || {})["presence:update"] || 0) + ((s.otherEvents || {})["presence:batch"] || 0), 0);
    const retries = Object.values(r.connectRetries || {}).reduce((a, b) => a + b, 0);
    md.push(`| ${r.label} | ${fmt(su.connectS)} | ${fmt(su.untilQuietS)} | ${fmt(su.serverCpuS, 2)} | ${fmt(su.loadgenCpuS, 2)} | ${ev || "none"}${r.setupEvents && r.setupEvents.presenceEntries ? ` (${int(r.setupEvents.presenceEntries)})` : ""} | ${int(late)} | ${int(retries)} | ` +
      `${int(d.lostDeliveries)} / ${int(d.missedByDisconnectedSockets)} / ${int(d.duplicateDeliveries)} |`);
  }
  for (const r of runsOf("fanout")) {
    if (r.history) md.push("", `${r.label}: ${historyLine(r.history)}`);
    for (const n of r.notes || []) if (!n.startsWith("the peer keeps no history")) md.push("", `${r.label}: ${n}`);
  }
  md.push("");
}

function historyLine(h) {
  return `History check (Parley): ${int(h.acknowledged)} acknowledged messages in ${int(h.channels)} channels — missing ${int(h.missing)}, duplicate ids ${int(h.duplicateIds)}, duplicate nonces ${int(h.duplicateNonces)}, stored but never acknowledged ${int(h.storedButNotAcknowledged)}.`;
}
function setupLine(t, r) {
  const d = r.delivery || {};
  const ev = Object.entries(r.setupEvents || {}).filter(([k]) => !["waitedS", "onlineAnnounced"].includes(k)).map(([k, v]) => `${k} ${int(v)}`).join(", ");
  const retries = Object.values(r.connectRetries || {}).reduce((a, b) => a + b, 0);
  return `${name[t]}: after settling, lost deliveries ${int(d.lostDeliveries)}, missed by sockets the server closed ${int(d.missedByDisconnectedSockets)}, duplicates ${int(d.duplicateDeliveries)}, announced although refused ${int(d.announcedButRefused)}, announced but ack timed out ${int(d.announcedButAckTimedOut)}; ` +
    `events received from the first connect until quiet: ${ev || "none"} (${fmt(r.setupEvents && r.setupEvents.waitedS)} s after the last connect); connects retried ${int(retries)}.`;
}

// ------------------------------------------------------------------------------------------------- connections
const co = get("connections", "ours");
const cp = get("connections", "peer");
if (co || cp) {
  md.push("## Idle connections", "", "| target | connections | failed | connect s | connects/s | server CPU ms per connect | PostgreSQL CPU ms per connect | load generator CPU s (connect / hold) | RSS before MB | RSS connected MB | KB per connection (connected / end of hold) | hold s | server-side drops in hold | pings per socket (min) | server CPU s in hold |",
    "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|");
  for (const [t, r] of [["ours", co], ["peer", cp]]) {
    if (!r || r.connected === undefined) continue;
    md.push(`| ${name[t]} | ${int(r.connected)} | ${int(r.failed)} | ${fmt(r.connectS)} | ${int(r.connectsPerS)} | ${fmt(r.cpuMsPerConnect, 3)} | ${t === "ours" ? fmt(r.postgresCpuMsPerConnect, 3) : "–"} | ${fmt(r.loadgenCpuConnectS, 2)} / ${fmt(r.loadgenCpuHoldS, 2)} | ` +
      `${fmt(r.rssBeforeMB)} | ${fmt(r.rssConnectedMB)} | ${fmt(r.rssPerConnKB)} / ${fmt(r.rssPerConnEndOfHoldKB)} | ${int(r.holdS)} | ${int(r.serverSideDrops ?? r.disconnectsDuringHold)} | ${int(r.pingsPerSocketMin)} | ${fmt(r.serverCpuHoldS, 2)} |`);
  }
  md.push("", "What one connect includes (server CPU per connect = the server's CPU while all sockets connected / sockets):");
  for (const [t, r] of [["ours", co], ["peer", cp]]) if (r && r.connectIncludes) md.push(`- ${name[t]}: ${r.connectIncludes}`);
  md.push("", "A server-side drop is a disconnect the client did not ask for (it closes its sockets only after the hold): a missed heartbeat, a closed transport. Target for Parley: 0.");
  for (const [t, r] of [["ours", co], ["peer", cp]]) {
    if (r && r.disconnectsDuringHold) md.push("", `${name[t]}: ${int(r.disconnectsDuringHold)} sockets were dropped during the hold (${errs(r.disconnectReasons)}), at ${(r.disconnectAgesMs || []).map((a) => fmt(a / 1000)).join(", ")} s after they had connected; over time: ${(r.dropsTimeline || []).map((x) => `${x.atS} s: ${x.drops}`).join(", ")}.`);
    const nr = r ? r.connectRetries : 0;
    if (nr) md.push("", `${name[t]}: ${int(nr)} handshakes were retried (${errs(r.connectRetryReasons)}).`);
  }
  if (co && cp && co.rssPerConnKB > 0 && cp.rssPerConnKB > 0) md.push("", `RSS per connection, ours / peer: **${ratio(co.rssPerConnKB, cp.rssPerConnKB)}**; server CPU per connect, ours / peer: **${ratio(co.cpuMsPerConnect, cp.cpuMsPerConnect)}**.`);
  for (const [t, r] of [["ours", co], ["peer", cp]]) {
    if (!r || r.connected === undefined) continue;
    headline.push(`idle sockets on ${t}: ${int(r.connected)} connected, RSS per socket ${fmt(r.rssPerConnKB)} KB after connecting, ${fmt(r.rssPerConnEndOfHoldKB)} KB at the end of the ${int(r.holdS)} s hold` +
      `${t === "ours" ? " [target ≤ 10 KB]" : ""}; server-side drops ${int(r.serverSideDrops ?? r.disconnectsDuringHold)}${t === "ours" ? " [target 0]" : ""}; server CPU per connect ${fmt(r.cpuMsPerConnect, 3)} ms` +
      (t === "ours" ? ` (with token auth, session check and room joins; PostgreSQL another ${fmt(r.postgresCpuMsPerConnect, 3)} ms)` : " (any token accepted, no database)") +
      `; load generator CPU ${fmt(r.loadgenCpuConnectS, 2)} s connecting, ${fmt(r.loadgenCpuHoldS, 2)} s holding`);
  }
  md.push("");
}

// ---------------------------------------------------------------------------------------------------- presence
const pr = get("presence", "ours");
if (pr && pr.phases) {
  const P = pr.phases;
  md.push(`## Presence while ${int(pr.members)} members of one server connect (Parley)`, "",
    `${int(pr.connected)} sockets (one per member) connected in ${fmt(pr.connectS)} s (${int(pr.params.concurrency)} handshakes in flight, ${int(pr.connectRetries)} retried). ` +
    "Counted at every client from its first event on: `presence:update` events (1 entry each) and `presence:batch` events (`updates[]` entries).", "",
    "| phase | seconds | presence:update | presence:batch | presence deliveries | entries | other events | server CPU s | PostgreSQL CPU s | load generator CPU s (event-loop p99 ms) |",
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---|");
  for (const [label, k] of [["connecting", "connect"], [`${fmt(pr.params.tailS)} s after the last connect`, "tail"], ["after that, until every member was announced and quiet", "afterTail"]]) {
    const x = P[k];
    if (!x) continue;
    md.push(`| ${label} | ${fmt(x.seconds)} | ${int(x.presenceUpdate)} | ${int(x.presenceBatch)} | ${int(x.deliveries)} | ${int(x.entries)} | ${errs(x.other)} | ${fmt(x.serverCpuS, 2)} | ${fmt(x.postgresCpuS, 2)} | ${fmt(x.loadgenCpuS, 2)} (${fmt(x.loadgenEventLoopP99Ms)}) |`);
  }
  md.push("", `Connecting and the ${fmt(pr.params.tailS)} s after: **${int(pr.presenceDeliveries)} presence deliveries carrying ${int(pr.presenceEntries)} entries** ` +
    `(${int(pr.presenceDeliveriesAfterTail)} deliveries with ${int(pr.presenceEntriesAfterTail)} entries came later). ` +
    `${int(pr.membersAnnouncedOnline)} of ${int(pr.members)} members were announced online${pr.allAnnouncedOnlineAfterS !== null && pr.allAnnouncedOnlineAfterS !== undefined ? `, the last ${fmt(pr.allAnnouncedOnlineAfterS)} s after the first connect` : ""} ` +
    `(${fmt(pr.presenceDeliveriesPerMember)} deliveries and ${fmt(pr.presenceEntriesPerMember)} entries per member; entries = ${fmt(pr.presenceEntriesOverKSquared, 2)} × members²). ` +
    `Server CPU while connecting: ${fmt(pr.serverCpuMsPerConnect, 2)} ms per connect, presence announcements included.`, "");
  headline.push(`presence while ${int(pr.members)} members connect (${fmt(pr.connectS)} s) and ${fmt(pr.params.tailS)} s after: ${int(pr.presenceDeliveries)} deliveries, ${int(pr.presenceEntries)} entries ` +
    `(${fmt(pr.presenceEntriesOverKSquared, 2)} × K²); until every member was announced and quiet: ${int(pr.presenceDeliveriesUntilQuiet)} deliveries, ${int(pr.presenceEntriesUntilQuiet)} entries; ` +
    `server CPU ${fmt(P.connect && P.connect.serverCpuS, 2)} s connecting, load generator ${fmt(P.connect && P.connect.loadgenCpuS, 2)} s`);
}

// -------------------------------------------------------------------------------------------------------- chat
for (const t of ["ours", "peer"]) {
  const r = get("chat", t);
  if (!r || !r.steps) continue;
  const p = r.params;
  md.push(`## Chat (${name[t]}): ${int(p.users)} users in ${int(p.channels)} channels, ${p.durationS} s per rate, ${p.size}-byte messages`, "");
  md.push("| msg/s offered | msg/s sent | acked | refused | ack timeouts | send→ack p50 / p95 / p99 / max ms | send→deliver p50 / p95 / p99 / max ms | deliveries/s | undelivered at step end | dup | server CPU s | Cassandra CPU s | MongoDB CPU s | load generator CPU s | loadgen event-loop p99 ms | per process: CPU share, event-loop lag p99 ms |", "|---:|---:|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const s of r.steps) {
    // Per process (runs since --procs): the coordinating process and each worker holding sockets.
    const procs = (s.loadgenProcesses || []).map((x) => `${x.proc} ${fmt(x.cpuShare * 100, 0)} %, ${fmt(x.eventLoopLagP99Ms)}`).join("; ");
    md.push(`| ${int(s.rate)} | ${fmt(s.achievedRate)} | ${int(s.acked)} | ${errs(s.errors)} | ${int(s.ackTimeouts)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p95)} / ${fmt(s.ack.p99)} / ${fmt(s.ack.max)} | ${fmt(s.deliver.p50)} / ${fmt(s.deliver.p95)} / ${fmt(s.deliver.p99)} / ${fmt(s.deliver.max)} | ${int(s.deliveriesPerS)} | ${int(s.undeliveredAtStepEnd)} | ${int(s.duplicateDeliveries)} | ${fmt(s.serverCpuS, 2)} | ${fmt(s.cassandraCpuS, 2)} | ${fmt(s.mongoCpuS, 2)} | ${fmt(s.loadgenCpuS ?? s.monitor.loadgen.cpuS, 2)} | ${fmt(s.monitor.loadgen.eventLoopDelayP99Ms)} | ${procs || "–"} |`);
  }
  if (p.procs > 1) md.push("", `Load generator: ${int(p.procs)} worker processes holding the sockets (official socket.io-client) plus the coordinating process (pacing, accounting); ` +
    "\"loadgen event-loop p99\" is the coordinating process's timer delay (lag + 10 ms); per process: CPU as a share of one core and event-loop lag p99 (delay beyond a 10 ms timer).");
  md.push("", `Highest offered rate with p99 send→deliver < 100 ms (and no refusals or loss): **${r.bestRateP99Under100ms ? int(r.bestRateP99Under100ms) + " msg/s" : "none"}**.`);
  md.push("", setupLine(t, r));
  if (r.history) md.push("", historyLine(r.history));
  if (r.notes && r.notes.length) md.push("", ...r.notes.map((n) => `- ${n}`));
  md.push("");
}

// -------------------------------------------------------------------------------------------------- throughput
const tp = get("throughput", "ours");
if (tp && tp.steps) {
  const p = tp.params;
  md.push(`## Write throughput (Parley): ${int(p.users)} users in ${int(p.channels)} channels (${fmt(p.membersPerChannel)} members each), ${p.durationS} s per rate, ${p.size}-byte messages`, "",
    `Acks come only after Cassandra stored the message, so acknowledged msg/s = persisted msg/s (acks over the step, or over the time to the last ack if that was longer). ` +
    `Load generator: ${int(p.procs)} worker processes with a lean client (\`ws\`, the Socket.IO protocol by hand) plus the coordinating process; ` +
    "per process its CPU as a share of one core and its event-loop lag p99 (a late loop would delay sends and inflate the measured latency). " +
    "A step is saturated when fewer than 95 % of the offered messages were acknowledged or ack p99 > 1 s.", "");
  md.push("| msg/s offered | msg/s sent | acked | persisted msg/s | refused | ack timeouts | send→ack p50 / p95 / p99 / max ms | deliveries | server CPU s (µs/msg) | Cassandra CPU s (µs/msg) | MongoDB CPU s | PostgreSQL CPU s | load generator CPU s (share of the machine) | per process: CPU share, event-loop lag p99 ms | |",
    "|---:|---:|---:|---:|---|---:|---|---:|---|---|---:|---:|---:|---|---|");
  for (const s of tp.steps) {
    const procs = (s.loadgenProcesses || []).map((x) => `${x.proc} ${fmt(x.cpuShare * 100, 0)} %, ${fmt(x.eventLoopLagP99Ms)}`).join("; ");
    const flags = [s.saturated ? "saturated" : "", s.loadgenBehind ? `load generator behind (${s.loadgenBehind})` : ""].filter(Boolean).join("; ");
    md.push(`| ${int(s.rate)} | ${fmt(s.achievedRate)} | ${int(s.acked)} | **${int(s.persistedPerS)}** | ${errs(s.errors)} | ${int(s.ackTimeouts)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p95)} / ${fmt(s.ack.p99)} / ${fmt(s.ack.max)} | ${int(s.deliveries)} | ` +
      `${fmt(s.serverCpuS, 2)} (${fmt(s.serverCpuUsPerMessage, 0)}) | ${fmt(s.cassandraCpuS, 2)} (${fmt(s.cassandraCpuUsPerMessage, 0)}) | ${fmt(s.mongoCpuS, 2)} | ${fmt(s.postgresCpuS, 2)} | ${fmt(s.loadgenCpuS, 2)} (${fmt(s.loadgenShareOfMachine * 100, 0)} %) | ${procs} | ${flags} |`);
  }
  const best = tp.steps.find((s) => s.persistedPerS === tp.maxPersistedPerS);
  const met = tp.goal && tp.goal.met;
  const last = tp.steps[tp.steps.length - 1];
  const verdict = met ? "met"
    : tp.steps.some((s) => s.rate >= 10000) ? "not met; the figures are this machine's measured ceiling"
    : last && last.saturated ? `not met: saturated already at ${int(last.rate)} msg/s (${int(last.persistedPerS)} persisted msg/s, ack p99 ${fmt(last.ack.p99)} ms)`
    : `not tried (the highest step offered ${int(last ? last.rate : 0)} msg/s)`;
  md.push("", `Highest offered rate with ack p99 < 100 ms (not saturated): **${tp.bestRateP99Under100ms ? int(tp.bestRateP99Under100ms) + " msg/s" : "none"}**; ` +
    `most persisted: **${int(tp.maxPersistedPerS)} msg/s**${best ? ` (offered ${int(best.rate)}, ack p99 ${fmt(best.ack.p99)} ms)` : ""}` +
    `${tp.ceilingReached ? ", the ceiling: a step offered more than the server stored" : ", not a ceiling: every step stored what it was offered (`--tp-all-steps` tries the higher rates too)"}. ` +
    `Target ≥ 10,000 persisted msg/s with ack p99 < 100 ms: **${verdict}**.`);
  const d = tp.delivery;
  if (d) md.push("", `Deliveries (message:new, the sender's own included, counted after settling): ${int(d.delivered)} of ${int(d.expected)} expected for the acknowledged messages; sockets the server closed ${int(d.socketsClosed)}, sends timed out ${int(d.sendsTimedOut)}.`);
  if (tp.history) md.push("", historyLine(tp.history));
  if (tp.notes && tp.notes.length) md.push("", ...tp.notes.map((n) => `- ${n}`));
  md.push("");
  const lgMax = (s) => Math.max(...(s.loadgenProcesses || []).map((x) => x.eventLoopLagP99Ms || 0));
  headline.push(`write throughput (${int(p.users)} users in ${int(p.channels)} channels, acks after Cassandra): highest rate with ack p99 < 100 ms ${tp.bestRateP99Under100ms ? int(tp.bestRateP99Under100ms) + " msg/s" : "none"}; ` +
    `max ${int(tp.maxPersistedPerS)} persisted msg/s${best ? ` (${tp.ceilingReached ? "the ceiling" : "not a ceiling: all offered were stored"}; at ${int(best.rate)} offered: ack p99 ${fmt(best.ack.p99)} ms, server CPU ${fmt(best.serverCpuS, 2)} s, Cassandra ${fmt(best.cassandraCpuS, 2)} s, MongoDB (FerretDB) ${fmt(best.mongoCpuS, 2)} s, load generator ${fmt(best.loadgenCpuS, 2)} s over ${fmt(best.seconds)} s, its event-loop lag p99 ≤ ${fmt(lgMax(best))} ms)` : ""} ` +
    `[target ≥ 10,000 msg/s with p99 < 100 ms: ${verdict}]`);
}

// ----------------------------------------------------------------------------------------------------- cluster
const clRuns = runsOf("cluster");
if (clRuns.length) {
  const lat = clRuns.filter((r) => r.params && r.params.mode !== "throughput");
  const tpr = clRuns.filter((r) => r.params && r.params.mode === "throughput");
  const vOrd = ["single", "spread", "local", "gateway", "tp-single", "tp-spread"];
  const byVariant = (rs) => [...new Set(rs.map((r) => r.variant))].sort((a, b) => vOrd.indexOf(a) - vOrd.indexOf(b));
  const rateList = (rs) => [...new Set(rs.flatMap((r) => (r.steps || []).map((s) => s.rate)))].sort((a, b) => a - b);
  const stepAt = (r, rate) => (r.steps || []).find((s) => s.rate === rate);
  const nodesOf = (r) => (r.params && r.params.nodes) || 1;
  const N = Math.max(...clRuns.map(nodesOf));
  const vText = {
    single: "one node (no cluster settings)",
    spread: `${N} nodes, round-robin: sends forwarded to the owner and deliveries through the Redis bus where the socket is not on the owner`,
    local: `${N} nodes, every socket on its channel's owner: nothing forwarded (each broadcast still published on the bus)`,
    gateway: `${N} nodes, every socket on one gateway node, only channels the other nodes own send: every send forwarded, every delivery through the bus`,
    "tp-single": "one node",
    "tp-spread": `${N} nodes, round-robin`,
  };
  const share = (x) => (typeof x === "number" ? `${Math.round(x * 100)} %` : "–");
  const placeText = (r) => {
    const p = r.placement;
    if (!p) return nodesOf(r) === 1 ? "all on node 1" : "–";
    return `sockets ${p.socketsPerNode.join("/")}, channels owned ${p.channelsOwnedPerNode.join("/")}; forwarded ${share(p.sendsForwardedShare)}, deliveries crossing ${share(p.deliveriesCrossingShare)}`;
  };
  const nodeCpu = (steps) => {
    // per node: median CPU s over the runs, as "n1 / n2 / n3" (roles in the gateway variant)
    const n = Math.max(0, ...steps.map((s) => (s.nodes || []).length));
    const out = [];
    for (let k = 0; k < n; k++) {
      const role = steps.map((s) => s.nodes && s.nodes[k] && s.nodes[k].role).find(Boolean);
      out.push(`${role ? role[0] : ""}${fmt(median(steps.map((s) => s.nodes && s.nodes[k] && s.nodes[k].cpuS)), 2)}`);
    }
    return out.join(" / ") || "–";
  };
  md.push(`## Cluster (issue #14): one node against ${N} nodes of one cluster`, "",
    `The same workload against one server process and against ${N} processes of one cluster on this machine: node i with PARLEY_NODE_ID=i and its own ` +
    "internal address, one Redis key prefix per run, the same databases (this run's PostgreSQL and MongoDB databases and the local stack's **single-node Cassandra**, " +
    "replication factor 1, for both: the three-node Cassandra of `scripts/cluster.sh` would add its own cost, and it is not the subject here). " +
    "Every run on freshly started processes; variants interleaved, the order reversed on even repeats. " +
    `**What these figures can show**: the cost of coordination and forwarding (server CPU per message summed over the nodes, its split between the owner and ` +
    "a forwarding gateway, the Redis bus's CPU, the latency a forward and a bus hop add). **What they cannot show**: scale-out. Every process shares the " +
    `same ${machine.cores || "?"} cores with Cassandra, FerretDB, PostgreSQL, Redis and the load generator, so ${N} nodes have no more CPU than one and can only be slower here; ` +
    "throughput with several nodes needs one machine (or at least one core) per node and a Cassandra cluster. " +
    "Redis, Cassandra, FerretDB and PostgreSQL are the local stack's processes: their CPU counts whatever else uses them meanwhile (on a quiet machine, nothing).", "",
    "Before measuring, every channel gets one message (the owners take their channel leases), and each channel's owner is read from Redis " +
    "(`<prefix>:lease:<channel>`); the placement figures (share of sends forwarded, share of deliveries whose socket is not on the owner) follow from it.", "");
  if (lat.length) {
    const lp = lat[0].params;
    md.push(`### Send→deliver and send→ack: ${int(lp.users)} users in ${int(lp.channels)} channels of ${fmt(lp.membersPerChannel)}, ${lp.durationS} s per rate, ${lp.size}-byte messages (official socket.io-client)`, "",
      "Median over the repeats, min–max in brackets. Lost/dup: over all runs of the row (0 expected). CPU: seconds over the step (from its first send until every delivery arrived); per node n1 / n2 / … (g = gateway, o = owner).", "",
      "| variant | msg/s | runs | placement (first run) | send→ack p50 / p95 / p99 / max ms | send→deliver p50 | p95 | p99 | max | lost | dup | server CPU s (all nodes) | per node CPU s | Redis CPU s | Cassandra CPU s | FerretDB CPU s | load generator CPU s (event-loop p99 ms) |",
      "|---|---:|---:|---|---|---|---|---|---|---:|---:|---|---|---|---|---|---|");
    for (const v of byVariant(lat)) {
      const rs = lat.filter((r) => r.variant === v);
      for (const rate of rateList(rs)) {
        const steps = rs.map((r) => stepAt(r, rate)).filter(Boolean);
        const lost = rs.reduce((a, r) => a + ((r.delivery && r.delivery.lostDeliveries) || 0), 0);
        const dup = steps.reduce((a, s) => a + (s.duplicateDeliveries || 0), 0);
        const m = (f, d = 1) => fmt(median(steps.map(f)), d);
        md.push(`| ${v} | ${int(rate)} | ${steps.length} | ${placeText(rs[0])} | ${m((s) => s.ack.p50)} / ${m((s) => s.ack.p95)} / ${m((s) => s.ack.p99)} / ${m((s) => s.ack.max)} | ` +
          `${spread(steps.map((s) => s.deliver.p50), 1)} | ${spread(steps.map((s) => s.deliver.p95), 1)} | **${spread(steps.map((s) => s.deliver.p99), 1)}** | ${spread(steps.map((s) => s.deliver.max), 1)} | ${int(lost)} | ${int(dup)} | ` +
          `${spread(steps.map((s) => s.serverCpuS), 2)} | ${nodeCpu(steps)} | ${spread(steps.map((s) => s.redisCpuS), 2)} | ${spread(steps.map((s) => s.cassandraCpuS), 2)} | ${spread(steps.map((s) => s.mongoCpuS), 2)} | ` +
          `${spread(steps.map((s) => s.loadgenCpuS), 2)} (${m((s) => s.monitor && s.monitor.loadgen.eventLoopDelayP99Ms)}) |`);
        headline.push(`cluster ${v}, ${int(rate)} msg/s: send→deliver p50 ${spread(steps.map((s) => s.deliver.p50), 1, " ms")}, p99 ${spread(steps.map((s) => s.deliver.p99), 1, " ms")}; ` +
          `send→ack p99 ${spread(steps.map((s) => s.ack.p99), 1, " ms")}; server CPU ${spread(steps.map((s) => s.serverCpuUsPerMessage), 0, " µs/msg")} (all nodes); lost ${int(lost)}, dup ${int(dup)}`);
      }
    }
    md.push("", "Variants: " + byVariant(lat).map((v) => `**${v}**: ${vText[v]}`).join("; ") + ".", "");

    md.push("### Server CPU per acknowledged message (µs, summed over the nodes)", "",
      "Ratio to one node: paired per repeat (repeat r of the variant against repeat r of `single`). In `gateway`, the gateway node's CPU and the owners' CPU are " +
      "apart: the gateway checks, forwards, waits and delivers from the bus; the owners store, acknowledge and publish, with no socket of their own. " +
      "The difference `spread`/`gateway` − `local` is what forwarding and cross-node delivery add; `local` − `single`, what the cluster machinery (bus, leases, " +
      `${N} processes' fixed costs) adds without forwarding. At low rates the fixed costs of every process (timers, lease renewals, the live-node reads) weigh on each message.`, "",
      "| variant | msg/s | server µs/msg | ratio to one node | gateway µs/msg | owners µs/msg | Redis µs/msg | Cassandra µs/msg |", "|---|---:|---|---|---|---|---|---|");
    const single = lat.filter((r) => r.variant === "single");
    for (const v of byVariant(lat)) {
      const rs = lat.filter((r) => r.variant === v);
      for (const rate of rateList(rs)) {
        const steps = rs.map((r) => stepAt(r, rate)).filter(Boolean);
        const ratios = [];
        if (v !== "single") {
          for (const r of rs) {
            const o = single.find((x) => x.repeat === r.repeat);
            const a = stepAt(r, rate);
            const b = o && stepAt(o, rate);
            if (a && b && a.serverCpuUsPerMessage && b.serverCpuUsPerMessage) ratios.push(a.serverCpuUsPerMessage / b.serverCpuUsPerMessage);
          }
        }
        const per = (f) => spread(steps.map((s) => (s.acked && f(s) !== null && f(s) !== undefined ? (f(s) * 1e6) / s.acked : null)), 0);
        md.push(`| ${v} | ${int(rate)} | **${spread(steps.map((s) => s.serverCpuUsPerMessage), 0)}** | ${v === "single" ? "1" : spread(ratios, 2, "×", true)} | ` +
          `${spread(steps.map((s) => s.gatewayCpuUsPerMessage), 0)} | ${spread(steps.map((s) => s.ownerCpuUsPerMessage), 0)} | ${per((s) => s.redisCpuS)} | ${per((s) => s.cassandraCpuS)} |`);
        if (v !== "single" && ratios.length) headline.push(`cluster ${v}, ${int(rate)} msg/s: server CPU per message ${spread(ratios, 2, "×", true)} of one node's` +
          (v === "gateway" ? ` (gateway ${spread(steps.map((s) => s.gatewayCpuUsPerMessage), 0, " µs")}, owners ${spread(steps.map((s) => s.ownerCpuUsPerMessage), 0, " µs")})` : ""));
      }
    }
    md.push("");
  }
  if (tpr.length) {
    const tp0 = tpr[0].params;
    md.push(`### Write throughput, one node against ${N}: ${int(tp0.users)} users in ${int(tp0.channels)} channels, ${tp0.durationS} s per rate (the throughput scenario's method)`, "",
      "Lean clients (`ws`, the protocol by hand) in worker processes; rising rates, stopping after the first saturated step (acked < 95 % of offered or ack p99 > 1 s), " +
      `so later rates have fewer runs. With ${N} nodes the users are placed round-robin. Median over the runs (min–max).`, "",
      "| variant | msg/s offered | runs | persisted msg/s | send→ack p50 ms | p99 ms | saturated | server CPU s (µs/msg) | per node CPU s | Redis CPU s | Cassandra CPU s | load generator CPU s (share of the machine) |",
      "|---|---:|---:|---|---|---|---|---|---|---|---|---|");
    for (const v of byVariant(tpr)) {
      const rs = tpr.filter((r) => r.variant === v);
      for (const rate of rateList(rs)) {
        const steps = rs.map((r) => stepAt(r, rate)).filter(Boolean);
        md.push(`| ${v} | ${int(rate)} | ${steps.length} | **${spread(steps.map((s) => s.persistedPerS), 0)}** | ${spread(steps.map((s) => s.ack.p50), 1)} | ${spread(steps.map((s) => s.ack.p99), 1)} | ` +
          `${steps.filter((s) => s.saturated).length} of ${steps.length} | ${spread(steps.map((s) => s.serverCpuS), 2)} (${fmt(median(steps.map((s) => s.serverCpuUsPerMessage)), 0)}) | ${nodeCpu(steps)} | ` +
          `${spread(steps.map((s) => s.redisCpuS), 2)} | ${spread(steps.map((s) => s.cassandraCpuS), 2)} | ${spread(steps.map((s) => s.loadgenCpuS), 2)} (${fmt(median(steps.map((s) => s.loadgenShareOfMachine)) * 100, 0)} %) |`);
      }
      const best = rs.map((r) => r.maxPersistedPerS);
      const under = rs.map((r) => r.bestRateP99Under100ms);
      headline.push(`cluster throughput ${v}: most persisted ${spread(best, 0, " msg/s")}, highest offered rate with ack p99 < 100 ms ${spread(under, 0, " msg/s")} over ${rs.length} run(s)`);
    }
    const pl = tpr.find((r) => r.placement);
    if (pl) md.push("", `Placement with ${N} nodes (first run): ${placeText(pl)}.`);
    md.push("");
  }
  md.push("### Every cluster run", "", "| run | variant | msg/s | acked | send→ack p50 / p99 ms | send→deliver p50 / p99 / max ms | per node: CPU s (µs/msg) | Redis CPU s | Cassandra CPU s | FerretDB CPU s | PostgreSQL CPU s | load generator CPU s | loss / dup | owners moved | history |",
    "|---|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|---|---:|---|");
  for (const r of clRuns) {
    const d = r.delivery || {};
    const loss = d.lostDeliveries !== undefined ? `${int(d.lostDeliveries)} / ${int(d.duplicateDeliveries)}` : d.missing !== undefined ? `${int(d.missing)} / ${int(d.surplus)}` : "–";
    const h = r.history ? `${int(r.history.acknowledged)} acked: missing ${int(r.history.missing)}, dup ${int(r.history.duplicateIds + r.history.duplicateNonces)}` : "–";
    for (const s of r.steps || []) {
      const nodes = (s.nodes || []).map((x) => `${x.role ? x.role[0] : ""}${fmt(x.cpuS, 2)} (${fmt(x.cpuUsPerMessage, 0)})`).join(" / ");
      md.push(`| ${r.label} | ${r.variant} | ${int(s.rate)} | ${int(s.acked)} | ${fmt(s.ack.p50)} / ${fmt(s.ack.p99)} | ${s.deliver ? `${fmt(s.deliver.p50)} / ${fmt(s.deliver.p99)} / ${fmt(s.deliver.max)}` : "–"} | ${nodes || "–"} | ` +
        `${fmt(s.redisCpuS, 2)} | ${fmt(s.cassandraCpuS, 2)} | ${fmt(s.mongoCpuS, 2)} | ${fmt(s.postgresCpuS, 2)} | ${fmt(s.loadgenCpuS, 2)} | ${loss} | ${r.ownersMovedDuringRun ?? "–"} | ${h} |`);
    }
    for (const n of r.notes || []) md.push("", `${r.label}: ${n}`);
  }
  md.push("");
}

// ----------------------------------------------------------------------------------------------------- history
const ho = get("history", "ours");
if (ho && ho.newest) {
  md.push(`## History reads (Parley): GET a page of 50, ${int(ho.params.reads)} sequential reads each (after ${int(ho.params.warmups || 0)} unmeasured)`, "", "| page | p50 ms | p95 ms | p99 ms | max ms | reads/s | server µs CPU per read | load generator CPU s | wrong pages | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [label, x] of [["newest (in-memory window)", ho.newest], ["older, past the window (Cassandra)", ho.older]]) {
    md.push(`| ${label} | ${fmt(x.p50, 2)} | ${fmt(x.p95, 2)} | ${fmt(x.p99, 2)} | ${fmt(x.max, 2)} | ${int(x.readsPerS)} | ${fmt(x.serverCpuUsPerRead, 0)} | ${fmt(x.monitor && x.monitor.loadgen.cpuS, 2)} | ${int(x.wrongPages)} | ${int(x.errors)} |`);
  }
  md.push("");
}
if (headline.length) md.splice(md.indexOf("## Summary"), 0, "## Headline figures", "", ...headline.map((h) => `- ${h}`), "");
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

panel(420, "Fan-out: deliveries per server CPU-second (median)", (b) => {
  const groups = fanSummary.map((g) => ({ label: g.variant, ours: g.ours, peer: g.peer }));
  bars(b, groups, "variant (Parley's CPU excludes Cassandra's)", kfmt);
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
writeFileSync(join(dir, "results.json"), JSON.stringify({ machine, after, runs: all }, null, 2) + "\n");
process.stdout.write(md.join("\n") + "\n");
if (headline.length) process.stdout.write(["", "Headline figures:", ...headline.map((h) => `  - ${h}`), ""].join("\n"));
