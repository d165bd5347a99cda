#!/usr/bin/env node
// Drops one MongoDB database (the benchmark's own) with a single OP_MSG {dropDatabase: 1}, so the benchmark needs
// no MongoDB driver. Usage: node bench/lib/mongo-drop.mjs mongodb://127.0.0.1:57017/ DBNAME
// Refuses names that do not start with parley_bench_. Exit 0 when the server answered ok:1.
import net from "node:net";

const [uri, db] = process.argv.slice(2);
if (!uri || !/^parley_bench_[a-z0-9_]+$/.test(db || "")) {
  process.stderr.write("usage: mongo-drop.mjs mongodb://host:port/ parley_bench_<name>\n");
  process.exit(2);
}
const { hostname, port } = new URL(uri);
if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(hostname)) {
  process.stderr.write("mongo-drop: loopback addresses only\n");
  process.exit(2);
}

function cstring(s) {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}
function bsonDoc(parts) {
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeInt32LE(body.length + 4);
  return Buffer.concat([len, body]);
}
function int32El(name, v) {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return Buffer.concat([Buffer.from([0x10]), cstring(name), b]);
}
function stringEl(name, v) {
  const s = cstring(v);
  const len = Buffer.alloc(4);
  len.writeInt32LE(s.length);
  return Buffer.concat([Buffer.from([0x02]), cstring(name), len, s]);
}

// Reads the top-level "ok" field of a BSON document (double, int32, int64 or bool).
function okOf(doc) {
  let i = 4;
  while (i < doc.length - 1) {
    const type = doc[i++];
    const end = doc.indexOf(0, i);
    const name = doc.toString("utf8", i, end);
    i = end + 1;
    let v;
    switch (type) {
      case 0x01: v = doc.readDoubleLE(i); i += 8; break;
      case 0x02: i += 4 + doc.readInt32LE(i); break;
      case 0x03: case 0x04: i += doc.readInt32LE(i); break;
      case 0x08: v = doc[i] ? 1 : 0; i += 1; break;
      case 0x10: v = doc.readInt32LE(i); i += 4; break;
      case 0x12: v = Number(doc.readBigInt64LE(i)); i += 8; break;
      default: return null; // a type this reader does not know: stop
    }
    if (name === "ok") return v;
  }
  return null;
}

const cmd = bsonDoc([int32El("dropDatabase", 1), stringEl("$db", db)]);
const header = Buffer.alloc(16);
const flags = Buffer.alloc(4);
const msg = Buffer.concat([header, flags, Buffer.from([0]), cmd]);
msg.writeInt32LE(msg.length, 0);
msg.writeInt32LE(1, 4);
msg.writeInt32LE(0, 8);
msg.writeInt32LE(2013, 12); // OP_MSG

const sock = net.connect({ host: hostname, port: Number(port || 27017) });
const timer = setTimeout(() => {
  process.stderr.write("mongo-drop: no answer in 20 s\n");
  process.exit(1);
}, 20000);
let buf = Buffer.alloc(0);
sock.on("connect", () => sock.write(msg));
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length < 4 || buf.length < buf.readInt32LE(0)) return;
  clearTimeout(timer);
  const ok = okOf(buf.subarray(21)); // 16-byte header, 4-byte flags, 1-byte section kind
  sock.end();
  if (ok === 1) process.exit(0);
  process.stderr.write(`mongo-drop: dropDatabase ${db} did not answer ok:1\n`);
  process.exit(1);
});
sock.on("error", (err) => {
  process.stderr.write(`mongo-drop: ${err.message}\n`);
  process.exit(1);
});
