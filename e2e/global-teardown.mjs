// Stops the server (SIGTERM, graceful) and drops this run's databases.
import fs from 'node:fs';
import { STATE_FILE, dropIsolatedData, readState, stopKeys, stopServer } from './lib/stack.mjs';

export default async function globalTeardown() {
  if (!fs.existsSync(STATE_FILE)) return;
  const state = readState();
  await stopKeys(state);
  await stopServer(state);
  dropIsolatedData(state);
  fs.rmSync(STATE_FILE, { force: true });
}
