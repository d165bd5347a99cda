// `npm test`: builds what is stale (outside Playwright's time budget), runs the Playwright suite, and ends with
// the plain summary line CI reads: "N passed, N failed". Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, E2E_DIR, ensureBuilt, stackEnv } from './lib/stack.mjs';

const started = Date.now();
const results = path.join(ARTIFACTS, 'results.json');
fs.mkdirSync(ARTIFACTS, { recursive: true });
fs.rmSync(results, { force: true });

let code = 1;
let setupError = null;
try {
  stackEnv(); // fail early, with the fix, when the local stack is not up
  ensureBuilt();
  const cli = path.join(E2E_DIR, 'node_modules', '@playwright', 'test', 'cli.js');
  const r = spawnSync(process.execPath, [cli, 'test', ...process.argv.slice(2)], {
    cwd: E2E_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: process.env.CI ?? 'true', PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
  });
  code = r.status ?? 1;
  if (r.error) setupError = r.error.message;
} catch (e) {
  setupError = e.message;
}

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(fs.readFileSync(results, 'utf8'));
  const s = report.stats ?? {};
  passed = (s.expected ?? 0) + (s.flaky ?? 0);
  failed = s.unexpected ?? 0;
  skipped = s.skipped ?? 0;
  if (failed === 0 && (report.errors?.length ?? 0) > 0) failed = 1; // global setup/teardown errors
} catch {
  if (!setupError && code !== 0) setupError = `no results in ${results}`;
}
if (setupError) console.error(`[e2e] error: ${setupError}`);
if (code !== 0 && failed === 0) failed = 1;
console.log(`[e2e] finished in ${((Date.now() - started) / 1000).toFixed(0)}s; screenshots and logs in e2e/artifacts/`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || code !== 0 ? 1 : 0);
