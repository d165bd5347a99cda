// Builds what is stale, creates this run's databases, starts the server and waits for /readyz.
import fs from 'node:fs';
import { ARTIFACTS, KEYS_LOG, SERVER_LOG, createIsolatedData, dropIsolatedData, ensureBuilt, freePort, log, startKeys, startServer, stopKeys, stopServer, writeState } from './lib/stack.mjs';

export default async function globalSetup() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(SERVER_LOG, '');
  fs.writeFileSync(KEYS_LOG, '');
  ensureBuilt(); // a no-op when run.mjs already built
  const state = createIsolatedData(await freePort(), await freePort());
  writeState(state);
  log(`data: slice ${state.slice} (Postgres and Mongo database, Cassandra keyspace, search index, Redis prefix)`);
  try {
    await startServer(state);
    await startKeys(state); // after the server: its migrations created the sessions table the key service reads
  } catch (e) {
    await stopKeys(state);
    await stopServer(state);
    dropIsolatedData(state);
    const tail = fs.readFileSync(SERVER_LOG, 'utf8').split('\n').slice(-30).join('\n');
    throw new Error(`${e.message}\n--- last lines of ${SERVER_LOG} ---\n${tail}`);
  }
}
