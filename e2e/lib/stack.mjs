// Everything the end-to-end run needs around the browser tests: building the server and the web app when they
// are stale, isolated data on the local stack (a fresh Postgres database, Mongo database and Cassandra keyspace),
// and starting / stopping the server process. Used by run.mjs, the global setup/teardown and the restart test.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(E2E_DIR, '..');
export const ARTIFACTS = path.join(E2E_DIR, 'artifacts');
export const STATE_FILE = path.join(ARTIFACTS, 'server-state.json');
export const SERVER_LOG = path.join(ARTIFACTS, 'server.log');
const SERVER_BIN = path.join(ROOT, 'bin', 'parley');
const KEYS_BIN = path.join(ROOT, 'bin', 'parley-keys');
export const KEYS_LOG = path.join(ARTIFACTS, 'keys.log');
const SLICE_BIN = path.join(ROOT, 'bin', 'parley-slice');
const PLAINSCAN_BIN = path.join(ROOT, 'bin', 'parley-e2e-plainscan');
const FRONTEND = path.join(ROOT, 'frontend');
const DIST_INDEX = path.join(FRONTEND, 'dist', 'index.html');

const STACK_KEYS = ['PARLEY_POSTGRES_URL', 'PARLEY_MONGO_URI', 'PARLEY_CASSANDRA_HOSTS', 'PARLEY_REDIS_URL'];

export const log = (...a) => console.log('[e2e]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Connection settings of the local stack: the environment wins, else .local/stack.env (written by stack.sh up). */
export function stackEnv() {
  const env = {};
  const file = path.join(ROOT, '.local', 'stack.env');
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) env[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
  }
  for (const k of [...STACK_KEYS, 'PARLEY_SEARCH_URLS']) if (process.env[k]) env[k] = process.env[k];
  env.PARLEY_SEARCH_URLS ??= 'http://127.0.0.1:59200'; // OpenSearch (scripts/stack/opensearch.sh)
  const missing = STACK_KEYS.filter((k) => !env[k]);
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: start the local databases first with scripts/stack.sh up (writes .local/stack.env)`);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------------- builds

const SKIP_DIRS = new Set(['.git', '.local', 'node_modules', 'bin', 'coverage', 'frontend', 'artifacts', 'dist']);

function newestMtime(paths, filter = () => true) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (!SKIP_DIRS.has(e)) visit(path.join(p, e));
    } else if (filter(p)) newest = Math.max(newest, st.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

const mtime = (p) => {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

const touch = (p) => {
  const now = new Date();
  fs.utimesSync(p, now, now);
};

function run(cmd, args, cwd, extraEnv = {}) {
  log(`$ ${cmd} ${args.join(' ')}   (in ${path.relative(ROOT, cwd) || '.'})`);
  execFileSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, ...extraEnv } });
}

const isGoSource = (p) => (p.endsWith('.go') && !p.endsWith('_test.go')) || p.endsWith('/go.mod') || p.endsWith('/go.sum') || /\/migrations\//.test(p);

/** Builds bin/parley if it is missing or older than any Go source; builds frontend/dist if missing or stale. */
export function ensureBuilt() {
  const feSources = ['src', 'public', 'index.html', 'package.json', 'package-lock.json', 'vite.config.ts', 'tsconfig.json'].map((p) =>
    path.join(FRONTEND, p),
  );
  if (mtime(DIST_INDEX) < newestMtime(feSources)) {
    if (!fs.existsSync(path.join(FRONTEND, 'node_modules'))) run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], FRONTEND);
    run('npm', ['run', 'build', '--silent'], FRONTEND);
  } else log('front end is up to date (frontend/dist)');

  const goSources = newestMtime([ROOT], isGoSource);
  if (mtime(SERVER_BIN) < goSources) {
    fs.mkdirSync(path.dirname(SERVER_BIN), { recursive: true });
    run('go', ['build', '-trimpath', '-o', SERVER_BIN, './cmd/server'], ROOT);
    touch(SERVER_BIN); // go build leaves an up-to-date binary untouched: mark it as checked now
  } else log('server binary is up to date (bin/parley)');
  if (mtime(KEYS_BIN) < goSources) {
    run('go', ['build', '-trimpath', '-o', KEYS_BIN, './cmd/keys'], ROOT);
    touch(KEYS_BIN);
  } else log('key service binary is up to date (bin/parley-keys)');
}

/** Builds bin/parley-slice (cmd/slice: creates and drops a run's data on the local stack) when stale. */
function ensureSliceTool() {
  const sources = ['cmd/slice', 'internal/testenv/slice', 'go.mod', 'go.sum'].map((p) => path.join(ROOT, p));
  if (mtime(SLICE_BIN) < newestMtime(sources, isGoSource)) {
    run('go', ['build', '-trimpath', '-o', SLICE_BIN, './cmd/slice'], ROOT);
    touch(SLICE_BIN);
  }
}

/**
 * Scans everything the run stored (Cassandra messages, Postgres text columns, Mongo documents) for the needles
 * (e2e/tools/plainscan); returns its report {found, cassandraRows, encryptedRows, postgresValues, mongoDocuments}.
 */
export function plainscan(state, needles) {
  if (mtime(PLAINSCAN_BIN) < newestMtime([path.join(E2E_DIR, 'tools'), path.join(ROOT, 'go.mod'), path.join(ROOT, 'go.sum')], isGoSource)) {
    run('go', ['build', '-trimpath', '-o', PLAINSCAN_BIN, './e2e/tools/plainscan'], ROOT);
    touch(PLAINSCAN_BIN);
  }
  const out = execFileSync(PLAINSCAN_BIN, needles, { env: { ...process.env, ...state.env }, timeout: 120_000, encoding: 'utf8' });
  return JSON.parse(out);
}

// ------------------------------------------------------------------------------------------------ data + env

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Creates this run's slice of the local stack with cmd/slice (a fresh Postgres database; fresh names for the
 * Mongo database, Cassandra keyspace, search index and Redis prefix, which the server creates); returns the
 * state of this run.
 */
export function createIsolatedData(port, keysPort) {
  const stack = stackEnv();
  ensureSliceTool();
  const out = execFileSync(SLICE_BIN, ['create', 'parley_e2e'], { env: { ...process.env, ...stack }, encoding: 'utf8', timeout: 120_000 });
  const sliceEnv = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    pid: null,
    slice: sliceEnv.PARLEY_SLICE,
    env: {
      ...stack,
      ...sliceEnv,
      PARLEY_HTTP_ADDR: `127.0.0.1:${port}`,
      PARLEY_PUBLIC_ORIGIN: origin,
      PARLEY_ALLOWED_ORIGINS: origin,
      PARLEY_JWT_SECRET: randomBytes(32).toString('hex'),
      PARLEY_BCRYPT_COST: '4',
      PARLEY_REGISTER_BURST: '1000', // every test registers its own users from 127.0.0.1
      PARLEY_LOGIN_IP_BURST: '1000',
      PARLEY_STATIC_DIR: path.join(FRONTEND, 'dist'),
      PARLEY_DATA_DIR: path.join(ARTIFACTS, 'data'),
      PARLEY_STORAGE_DIR: path.join(ARTIFACTS, 'data', 'files'), // attachments (fs store; the S3 one is tested in Go)
      PARLEY_UPLOAD_BURST: '1000',
      PARLEY_LOG_LEVEL: 'info',
      PARLEY_SHUTDOWN_TIMEOUT: '15s',
      // The key service of encrypted DMs (startKeys), proxied by the server at /keys/.
      ...(keysPort ? { PARLEY_KEYS_URL: `http://127.0.0.1:${keysPort}` } : {}),
      // Its notices reach the browsers through the server (e2ee:sync), on the slice's own PARLEY_REDIS_PREFIX
      // (apart from other runs on the shared Redis).
      ...(keysPort ? { PARLEY_KEYS_REDIS_URL: stack.PARLEY_REDIS_URL } : {}),
    },
    keysPort,
    keysPid: null,
  };
}

/** Drops this run's slice (Postgres and Mongo databases, Cassandra keyspace, search index, Redis keys). Never throws. */
export function dropIsolatedData(state) {
  try {
    ensureSliceTool();
    execFileSync(SLICE_BIN, ['drop', state.slice], { stdio: 'inherit', env: { ...process.env, ...stackEnv() }, timeout: 150_000 });
  } catch (e) {
    log(`warning: could not drop all of the data slice ${state.slice}: ${e.message}`);
  }
}

export const readState = () => JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
export const writeState = (s) => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(STATE_FILE, JSON.stringify(s, null, 2));
};

// ---------------------------------------------------------------------------------------------------- server

function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill(pid, 0).
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function readyz(origin) {
  try {
    const res = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(5_000) });
    return res.status;
  } catch {
    return 0;
  }
}

/** Starts bin/parley with the run's env (output appended to artifacts/server.log) and waits for /readyz = 200. */
export async function startServer(state, { timeoutMs = 120_000, persist = true } = {}) {
  fs.mkdirSync(path.join(ARTIFACTS, 'data'), { recursive: true });
  const out = fs.openSync(SERVER_LOG, 'a');
  fs.writeSync(out, `\n===== starting server on ${state.origin} at ${new Date().toISOString()} =====\n`);
  // Detached, output to a file: the process outlives whichever Playwright process started it (a test may
  // restart it) and never dies of a closed pipe.
  const child = spawn(SERVER_BIN, [], {
    cwd: ROOT,
    env: { ...process.env, ...state.env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.unref();
  state.pid = child.pid;
  if (persist) writeState(state); // a second server started by one test (persist: false) must not replace the suite's
  const start = Date.now();
  let last = 0;
  while (Date.now() - start < timeoutMs) {
    if (exited) throw new Error(`server exited during start-up (${JSON.stringify(exited)}); see ${SERVER_LOG}`);
    last = await readyz(state.origin);
    if (last === 200) {
      log(`server ready on ${state.origin} (pid ${child.pid}) in ${((Date.now() - start) / 1000).toFixed(1)}s`);
      return state;
    }
    await sleep(250);
  }
  throw new Error(`server not ready after ${timeoutMs / 1000}s (last /readyz status ${last}); see ${SERVER_LOG}`);
}

/** SIGTERM, then wait for the process to exit (SIGKILL after timeoutMs). Returns how long it took (ms). */
export async function stopServer(state, { timeoutMs = 30_000, persist = true } = {}) {
  const pid = state.pid;
  if (!isAlive(pid)) return 0;
  const start = Date.now();
  process.kill(pid, 'SIGTERM');
  while (isAlive(pid)) {
    if (Date.now() - start > timeoutMs) {
      log(`server pid ${pid} did not exit ${timeoutMs / 1000}s after SIGTERM: killing it`);
      process.kill(pid, 'SIGKILL');
      await sleep(500);
      break;
    }
    await sleep(100);
  }
  const took = Date.now() - start;
  log(`server pid ${pid} stopped in ${(took / 1000).toFixed(1)}s`);
  state.pid = null;
  if (persist) writeState(state);
  return took;
}

// ----------------------------------------------------------------------------------------------- key service

/**
 * Starts bin/parley-keys on the run's database and token key (output to artifacts/keys.log) and waits for its
 * /healthz. Its rotation policy is short (4 messages, 1 of grace) so a scenario sees a forced rotation.
 */
export async function startKeys(state, { timeoutMs = 60_000 } = {}) {
  const out = fs.openSync(KEYS_LOG, 'a');
  const child = spawn(KEYS_BIN, [], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...state.env,
      PARLEY_KEYS_ADDR: `127.0.0.1:${state.keysPort}`,
      PARLEY_KEYS_ROTATE_MESSAGES: '4',
      PARLEY_KEYS_ROTATE_GRACE_MESSAGES: '1',
    },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.unref();
  state.keysPid = child.pid;
  writeState(state);
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (exited) throw new Error(`key service exited during start-up (${JSON.stringify(exited)}); see ${KEYS_LOG}`);
    try {
      const res = await fetch(`http://127.0.0.1:${state.keysPort}/healthz`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) {
        log(`key service ready on 127.0.0.1:${state.keysPort} (pid ${child.pid})`);
        return;
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`key service not ready after ${timeoutMs / 1000}s; see ${KEYS_LOG}`);
}

export async function stopKeys(state) {
  const pid = state.keysPid;
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const start = Date.now();
  while (isAlive(pid) && Date.now() - start < 15_000) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  state.keysPid = null;
  writeState(state);
}
