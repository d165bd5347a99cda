// Playwright configuration. The browser is the system Chromium (Debian package `chromium`); Playwright never
// downloads one. The server is started by global-setup.mjs on a free port with its own data (see lib/stack.mjs).
import { defineConfig } from '@playwright/test';

const CHROMIUM = process.env.PARLEY_E2E_CHROMIUM || '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: './artifacts/test-results',
  globalSetup: './global-setup.mjs',
  globalTeardown: './global-teardown.mjs',
  // One worker, one test at a time: the machine is small and shared, and one test restarts the server.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 90_000,
  globalTimeout: 1_200_000, // 30+ scenarios took 7.5 min on a busy 2-core machine (issues #15, #16); a guard, not a target
  expect: { timeout: 15_000 },
  reporter: [['list'], ['json', { outputFile: './artifacts/results.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
