// The web app through the balancer: two users in Chromium (Debian's, via playwright-core), each pinned by
// HAProxy's cookie to a node, chat both ways; the check fails unless each sees the other's message. Run by
// `scripts/cluster.sh check-webapp` against a running cluster. Usage: node webapp-check.mjs http://127.0.0.1:8090
import { chromium } from '../../e2e/node_modules/playwright-core/index.mjs';

const base = (process.argv[2] || 'http://127.0.0.1:8090').replace(/\/$/, '');
const run = Date.now().toString(36);
const fail = (msg) => { console.error(`webapp-check: FAILED: ${msg}`); process.exit(1); };

async function api(method, path, body, token) {
  const res = await fetch(base + path, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const users = [];
for (const name of ['wa', 'wb']) {
  users.push(await api('POST', '/api/auth/register', { username: `${name}${run}`, email: `${name}${run}@example.com`, password: 'correct horse battery' }));
}
const server = await api('POST', '/api/servers', { name: `Webapp check ${run}` }, users[0].accessToken);
const invite = await api('POST', `/api/servers/${server.id}/invites`, {}, users[0].accessToken);
await api('POST', `/api/invites/${invite.code}/join`, undefined, users[1].accessToken);
const { channels } = await api('GET', `/api/servers/${server.id}/channels`, undefined, users[0].accessToken);
const path = `/channels/${server.id}/${channels[0].id}`;

const browser = await chromium.launch({ executablePath: process.env.PARLEY_E2E_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const pages = [];
  for (const auth of users) {
    const context = await browser.newContext({
      baseURL: base,
      storageState: { cookies: [], origins: [{ origin: base, localStorage: [{ name: 'parley.session', value: JSON.stringify({ ...auth, receivedAt: Date.now() }) }] }] },
    });
    const page = await context.newPage();
    await page.goto(path);
    await page.getByTestId('connection-banner').first().waitFor({ state: 'attached', timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="connection-banner"]')?.getAttribute('data-state') === 'connected', null, { timeout: 30_000 });
    const cookies = await context.cookies();
    pages.push({ page, node: cookies.find((c) => c.name === 'SRV')?.value ?? '(websocket only)' });
  }
  console.log(`webapp-check: users on nodes ${pages.map((p) => p.node).join(' and ')}`);
  for (const [i, { page }] of pages.entries()) {
    const text = `hello from user ${i + 1} (${run})`;
    await page.getByTestId('composer-input').fill(text);
    await page.getByTestId('composer-input').press('Enter');
    const other = pages[1 - i].page;
    await other.getByText(text).first().waitFor({ timeout: 15_000 }).catch(() => fail(`user ${2 - i} did not see "${text}"`));
  }
  console.log('webapp-check: both users saw each other\'s message through the balancer');
} finally {
  await browser.close();
}
