// Writes a .br and a .gz next to every compressible file of the build (dist/), so the server can send the
// smallest encoding the browser accepts without compressing on every request. Run after `vite build`.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map|webmanifest|ico)$/;
const MIN_BYTES = 1024; // below this the headers cost more than the saving

/** precompress compresses every eligible file under dir; returns how many files it compressed. */
export function precompress(dir) {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) {
      n += precompress(path);
      continue;
    }
    if (!COMPRESSIBLE.test(name) || st.size < MIN_BYTES) continue;
    const data = readFileSync(path);
    const br = brotliCompressSync(data, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    });
    const gz = gzipSync(data, { level: 9 });
    // Keep an encoding only where it saves something.
    if (br.length < data.length) writeFileSync(path + '.br', br);
    if (gz.length < data.length) writeFileSync(path + '.gz', gz);
    n++;
  }
  return n;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] || 'dist';
  const n = precompress(dir);
  if (n === 0) {
    console.error(`precompress: nothing to compress in ${dir}`);
    process.exit(1);
  }
}
