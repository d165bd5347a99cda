// Browser-side hardening (issue #22, findings 8 and 10): the app refuses to be framed by another site, runs
// under its Content-Security-Policy without a single violation (markdown, highlighted code, the emoji picker,
// the socket), shows where spoofed links really go and asks before leaving, and tells an impersonator apart.
import { expect, test, type Page } from '@playwright/test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, closeAll, expectMessageOnce, messageRows, newUser, origin, send, setupPair } from './helpers';

/** Collects every CSP violation the page reports (the event fires for blocked scripts, styles, images, sockets). */
async function watchCSP(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  const console: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) console.push(m.text());
  });
  return async () => [...(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])), ...console];
}

/** The one message row whose rendered text contains `text`. */
function rowWith(page: Page, text: string) {
  return page.getByTestId('message-item').filter({ has: page.getByTestId('message-content').filter({ hasText: text }) });
}

test('security: another site cannot frame the app', async ({ browser }) => {
  const u = await newUser(browser);
  const servers: http.Server[] = [];
  try {
    // A page of another site (localhost vs 127.0.0.1), served from this machine: a public address would meet
    // Chrome's local network access rules before frame-ancestors.
    const html = `<!doctype html><title>Win a prize</title><iframe id="victim" src="${origin()}/login" width="800" height="600"></iframe>`;
    const site = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(html);
    });
    await new Promise<void>((ok) => site.listen(0, '127.0.0.1', ok));
    servers.push(site);
    const attacker = `http://localhost:${(site.address() as AddressInfo).port}`;
    await u.page.goto(`${attacker}/`);
    // The browser refuses to show the app in the frame (frame-ancestors 'none') and puts its error page there;
    // without the headers the frame holds the app (checked by taking them out).
    const frame = u.page.frames().find((f) => f !== u.page.mainFrame());
    expect(frame, 'the iframe exists').toBeTruthy();
    await expect.poll(() => frame!.url(), { timeout: 15_000 }).toMatch(/^chrome-error:/);
    await expect(u.page.frameLocator('#victim').getByRole('button', { name: /log in/i })).toHaveCount(0);

    // The same page, opened directly, is the app.
    const res = await u.page.goto('/login');
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res?.headers()['x-frame-options']).toBe('DENY');
    await expect(u.page.getByRole('button', { name: /log in/i })).toBeVisible();
  } finally {
    await closeAll(u);
    for (const s of servers) s.close();
  }
});

test('security: the app runs under its CSP; spoofed links show their real target; an impersonator is told apart', async ({ browser }) => {
  const p = await setupPair(browser, 'Security Club');
  const { a, b } = p;
  try {
    // Reload both with the CSP watch in place (the watch must be installed before the app's scripts run).
    const [aViolations, bViolations] = await Promise.all([watchCSP(a.page), watchCSP(b.page)]);
    const [resA] = await Promise.all([a.page.goto(p.generalPath), b.page.goto(p.generalPath)]);
    expect(resA?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect(a.page.getByTestId('connection-banner').first()).toHaveAttribute('data-state', 'connected');
    await expect(b.page.getByTestId('connection-banner').first()).toHaveAttribute('data-state', 'connected');

    // Markdown with highlighted code (a lazily loaded chunk) and an emoji.
    await send(a.page, '**csp** check :tada:\n```js\nconst x = 1;\n```');
    const first = rowWith(b.page, 'csp check');
    await expect(first.locator('pre .hljs-keyword')).toHaveText('const');
    await expect(first.locator('strong')).toHaveText('csp');

    // A masked link and a look-alike host (Cyrillic а in "аpple.com").
    const spoof = 'log in at [https://bank.example](https://evil.example/login) or https://\u0430pple.com/signin';
    await send(a.page, spoof);
    const masked = b.page.getByRole('link', { name: /^https:\/\/bank\.example \(evil\.example\)$/ });
    await expect(masked).toBeVisible();
    await expect(masked).toHaveAttribute('href', 'https://evil.example/login');
    const idn = b.page.getByRole('link', { name: /\(xn--pple-43d\.com\)$/ });
    await expect(idn).toHaveAttribute('href', 'https://xn--pple-43d.com/signin');

    // Following either asks first and names the real URL; nothing opens until confirmed.
    const opened: string[] = [];
    b.context.on('page', (pg) => opened.push(pg.url()));
    await b.context.route('https://xn--pple-43d.com/**', (route) => route.fulfill({ contentType: 'text/html', body: '<title>elsewhere</title>' }));
    await masked.click();
    const dialog = b.page.getByTestId('leave-dialog');
    await expect(dialog.getByRole('heading', { name: 'You are leaving Parley' })).toBeVisible();
    await expect(dialog.getByTestId('leave-url')).toHaveText('https://evil.example/login');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await idn.click();
    await expect(dialog.getByTestId('leave-url')).toHaveText('https://xn--pple-43d.com/signin');
    expect(opened, 'no tab opened before confirming').toEqual([]);
    const [tab] = await Promise.all([b.context.waitForEvent('page'), dialog.getByRole('link', { name: 'Open link' }).click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe('https://xn--pple-43d.com/signin');
    await tab.close();
    await expect(dialog).toHaveCount(0);

    // The full emoji picker (emoji-picker-react writes <style> elements: style-src allows inline styles).
    const text = 'react to me';
    await send(a.page, text);
    await expectMessageOnce(b.page, text);
    await messageRows(b.page, text).hover();
    await messageRows(b.page, text).getByTestId('add-reaction-button').click();
    const picker = b.page.getByTestId('reaction-picker');
    const search = picker.getByRole('searchbox').or(picker.locator('input')).first();
    await expect(search).toBeVisible();
    await search.fill('rocket');
    await picker.getByRole('button', { name: /rocket/i }).or(picker.getByRole('gridcell', { name: /rocket/i })).first().click();
    await expect(messageRows(a.page, text)).toContainText('🚀');

    // Bob takes Alice's display name: his messages still carry his own @username.
    await api('PATCH', '/api/users/me', { displayName: 'Alice' }, p.bob.accessToken);
    await b.page.reload();
    await expect(b.page.getByTestId('connection-banner').first()).toHaveAttribute('data-state', 'connected');
    await send(b.page, 'I am totally Alice');
    await a.page.reload();
    const fake = messageRows(a.page, 'I am totally Alice');
    await expect(fake).toHaveCount(1);
    await expect(fake.getByTestId('message-author')).toHaveText('Alice');
    await expect(fake.getByTestId('message-username')).toHaveText(`@${p.bob.user.username}`);
    await expect(rowWith(a.page, 'csp check').getByTestId('message-username')).toHaveText(`@${p.alice.user.username}`);

    expect(await aViolations(), 'CSP violations in Alice\'s page').toEqual([]);
    expect(await bViolations(), 'CSP violations in Bob\'s page').toEqual([]);
  } finally {
    await closeAll(a, b);
  }
});
