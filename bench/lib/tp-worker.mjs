// A child process of the throughput scenario: a lean Socket.IO client (the `ws` package, the protocol spoken by
// hand) for a share of the senders. The official client costs more CPU per message than this scenario can spare
// on a machine it shares with the server and Cassandra, and the load generator must not be what limits the rate.
// Only what the scenario needs is implemented: Engine.IO v4 open/ping/pong over a WebSocket, the Socket.IO
// CONNECT with the token, events with acks, and counting message:new. Driven over IPC by load.mjs:
//   {cmd:"connect", url, users:[{token, channelId, channel, url?}], localAddresses, concurrency} → {type:"connected"}
//                  (a user's own url, if given, wins: the cluster scenario spreads the sockets over nodes)
//   {cmd:"idle"}   → {type:"idle", idleMs} (ms since the last frame that was not part of the load: presence etc.)
//   {cmd:"step", k, rate, duration, size, tag, ackTimeoutMs} → {type:"step", ...} once every send is answered
//   {cmd:"count"}  → {type:"count", deliveries, closed}
//   {cmd:"finish"} → {type:"finish", steps:[{k, chan, ids}]} (what was acknowledged, for the history check)
//   {cmd:"close"}  → closes every socket, {type:"closed"}, exits
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import WebSocket from "ws";

const now = () => performance.now();
const W = Number(process.env.TP_WORKER || 0);
const send = (m) => process.connected && process.send(m);
const log = (msg) => process.stderr.write(`    [tp-worker ${W}] ${msg}\n`);

const conns = [];
let seq = 1; // ack ids: unique within this process (the protocol needs them unique per socket only)
let cur = null; // the running step
const done = []; // finished steps' acknowledged messages, until "finish"
let deliveries = 0; // message:new frames received, all steps
let lateAcks = 0; // acks of an earlier step that came after that step had given up on them
let closed = 0; // sockets the server closed
let lastOther = now(); // last frame that was not load traffic (presence, unread counts...)
const el = monitorEventLoopDelay({ resolution: 10 });

// Frame prefixes compared as bytes, so most frames are never decoded or parsed.
const NEW = Buffer.from('42["message:new",');
const SENT = Buffer.from('42["message:sent",');
const OK_ACK = '[{"message":{"id":"'; // Go encodes the ack's map with sorted keys: {"message":{...},"ok":true}
const startsWith = (buf, pre) => buf.length >= pre.length && buf.compare(pre, 0, pre.length, 0, pre.length) === 0;

/** onAck handles `43<id>[...]`: the ack of message `id - cur.base` of the running step. */
function onAck(buf) {
  const s = buf.toString("latin1"); // ids and codes are ASCII; the content is never looked at
  let i = 2;
  let id = 0;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) id = id * 10 + (s.charCodeAt(i++) - 48);
  const st = cur;
  if (!st || id < st.base || id >= st.base + st.total || st.status[id - st.base] !== 0) {
    lateAcks++;
    return;
  }
  const n = id - st.base;
  const t = now();
  let ok = false;
  let msgId = null;
  let code = null;
  if (s.startsWith(OK_ACK, i) && s.endsWith('"ok":true}]')) {
    ok = true;
    const a = i + OK_ACK.length;
    msgId = s.slice(a, s.indexOf('"', a));
  } else {
    // Anything else (an error, or a shape the fast path does not know): parse it properly.
    try {
      const res = JSON.parse(s.slice(i))[0];
      if (res && res.ok && res.message) {
        ok = true;
        msgId = res.message.id;
      } else code = (res && res.error && res.error.code) || "malformed_ack";
    } catch {
      code = "malformed_ack";
    }
  }
  if (ok && !s.includes(`"nonce":"${st.tag}.${n}"`, i)) {
    ok = false;
    code = "bad_ack"; // acknowledged someone else's message
  }
  st.acks++;
  if (ok) {
    st.status[n] = 1;
    st.ids[n] = msgId;
    st.lat[st.nLat++] = t - st.t0[n];
    st.okAcks++;
    st.lastOk = t;
  } else {
    st.status[n] = 2;
    st.errors[code] = (st.errors[code] || 0) + 1;
  }
}

/** open connects one user's socket: resolves once the Socket.IO CONNECT is answered. */
function open(url, user, localAddress, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const wsUrl = url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
    // No Origin header: Parley's allowlist applies to browser pages only.
    const ws = new WebSocket(wsUrl, { localAddress, perMessageDeflate: false });
    const c = { ws, user, up: false };
    let settled = false;
    const fail = (msg, retryable) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      const err = new Error(msg);
      err.retryable = retryable;
      reject(err);
    };
    const timer = setTimeout(() => fail("connect timed out", true), timeoutMs);
    ws.on("message", (buf) => {
      const b0 = buf[0];
      if (b0 === 0x34) {
        const b1 = buf[1];
        if (b1 === 0x33) return onAck(buf); // 43: ack
        if (b1 === 0x32) {
          // 42: event
          if (startsWith(buf, NEW)) deliveries++;
          else if (!startsWith(buf, SENT)) lastOther = now();
          return;
        }
        if (b1 === 0x30) {
          // 40: CONNECT answered
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          c.up = true;
          return resolve(c);
        }
        if (b1 === 0x34) return fail(`connect_error: ${buf.toString("utf8", 2, 200)}`, false); // 44
        if (b1 === 0x31) ws.close(); // 41: the server disconnected this socket
        return;
      }
      if (b0 === 0x32) return ws.send("3"); // Engine.IO ping → pong
      if (b0 === 0x30) return ws.send(`40${JSON.stringify({ token: user.token })}`); // Engine.IO open → CONNECT
    });
    ws.on("close", () => {
      if (c.up) {
        c.up = false;
        closed++;
      }
      fail("closed before CONNECT was answered", true);
    });
    ws.on("error", (err) => fail(`websocket: ${err.message}`, true));
  });
}

async function connect({ url, users, localAddresses, concurrency }) {
  const t0 = now();
  const errors = {};
  let retried = 0;
  let failed = 0;
  let next = 0;
  const one = async () => {
    while (next < users.length) {
      const i = next++;
      for (let a = 1; ; a++) {
        try {
          conns[i] = await open(users[i].url || url, users[i], localAddresses[i % localAddresses.length]); // a user's own node (cluster)
          break;
        } catch (err) {
          if (err.retryable && a < 3) {
            retried++;
            continue;
          }
          failed++;
          const k = String(err.message).slice(0, 80);
          errors[k] = (errors[k] || 0) + 1;
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, one));
  send({ type: "connected", connected: conns.filter(Boolean).length, failed, errors, retried, ms: now() - t0 });
}

/**
 * step sends `rate` msg/s for `duration` s open loop (the due count every 5 ms, round-robin over this process's
 * users, so consecutive messages go to different channels), then waits for every ack (bounded), and reports.
 */
async function step({ k, rate, duration, size, tag, ackTimeoutMs }) {
  const total = Math.max(0, Math.round(rate * duration));
  const live = conns.filter(Boolean);
  const st = {
    k, total, base: seq, tag: `${tag}.${W}.${k}`, t0: new Float64Array(total), chan: new Int32Array(total), status: new Uint8Array(total),
    ids: new Array(total).fill(null), lat: new Float64Array(total), nLat: 0, acks: 0, okAcks: 0, errors: {}, lastOk: 0,
  };
  seq += total;
  cur = st;
  const pad = "x".repeat(Math.max(0, size));
  const deliveries0 = deliveries;
  const cpu0 = process.cpuUsage();
  el.reset();
  el.enable();
  const start = now();
  st.start = start;
  let n = 0;
  let lastSend = start;
  let maxBehind = 0; // the most messages a tick found overdue: how far the pacing fell behind
  const sendOne = () => {
    const c = live[n % live.length];
    st.chan[n] = c.user.channel;
    st.t0[n] = now();
    if (!c.up) {
      st.status[n] = 2;
      st.acks++;
      st.errors.socket_closed = (st.errors.socket_closed || 0) + 1;
    } else {
      const content = `tp ${n} ${pad}`.slice(0, Math.max(size, 16));
      c.ws.send(`42${st.base + n}["message:send",{"channelId":"${c.user.channelId}","content":"${content}","nonce":"${st.tag}.${n}"}]`);
    }
    n++;
  };
  if (total > 0 && live.length > 0) {
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate) + 1);
        maxBehind = Math.max(maxBehind, due - n);
        while (n < due) sendOne();
        lastSend = now();
        if (n >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
  }
  const sendS = (lastSend - start) / 1000;
  const deadline = now() + ackTimeoutMs;
  while (st.acks < n && now() < deadline) await new Promise((r) => setTimeout(r, 10));
  let timeouts = 0;
  for (let i = 0; i < n; i++) {
    if (st.status[i] === 0) {
      st.status[i] = 3;
      timeouts++;
    }
  }
  el.disable();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (now() - start) / 1000;
  cur = null;
  done.push({ k, chan: st.chan.subarray(0, n), ids: st.ids.slice(0, n) });
  send({
    type: "step", k, offered: total, sent: n, sendSeconds: sendS, acked: st.okAcks, errors: st.errors, ackTimeouts: timeouts,
    lastOkS: st.lastOk ? (st.lastOk - start) / 1000 : null, lat: st.lat.slice(0, st.nLat), deliveries: deliveries - deliveries0,
    maxBehind, seconds, cpuS: (cpu.user + cpu.system) / 1e6, elP99Ms: el.percentile(99) / 1e6, elMaxMs: el.max / 1e6, closed, lateAcks,
  });
}

process.on("message", (m) => {
  const fail = (err) => send({ type: "error", message: String(err && err.stack ? err.stack : err) });
  if (m.cmd === "connect") connect(m).catch(fail);
  else if (m.cmd === "idle") send({ type: "idle", idleMs: now() - lastOther });
  else if (m.cmd === "step") step(m).catch(fail);
  else if (m.cmd === "count") send({ type: "count", deliveries, closed, lateAcks });
  else if (m.cmd === "finish") send({ type: "finish", steps: done });
  else if (m.cmd === "close") {
    for (const c of conns) if (c) c.ws.close();
    send({ type: "closed" });
    setTimeout(() => process.exit(0), 200);
  }
});
process.on("disconnect", () => process.exit(0)); // the parent is gone
setTimeout(() => {
  log("still running after an hour: exiting");
  process.exit(3);
}, 60 * 60 * 1000).unref();
