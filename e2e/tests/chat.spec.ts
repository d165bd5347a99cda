// End-to-end scenarios: two users, each in a separate browser context, against the real server and databases.
// Each test sets up its own users (over REST, except the first, which goes through the UI), so one failure does
// not cascade; the server restart runs last.
import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, readState, startServer, stopServer } from '../lib/stack.mjs';
import {
  PASSWORD,
  api,
  closeAll,
  expectMessageOnce,
  expectNoDuplicateIds,
  expectNotReloaded,
  markPage,
  messageRows,
  newUser,
  openChannel,
  origin,
  registerApi,
  screenshot,
  send,
  setupPair,
  waitForChat,
  type UserPage,
} from './helpers';
import { optimizePng } from '../lib/png.mjs';

const README_SCREENSHOT = path.join(ROOT, 'docs', 'screenshot.png');

test('register through the UI, create a server and an invite; Bob joins with the link', async ({ browser }) => {
  let a: UserPage | undefined, b: UserPage | undefined;
  try {
    a = await newUser(browser);
    b = await newUser(browser);
    const { page: alice } = a;
    const { page: bob } = b;

    // Alice: the app sends a logged-out visitor to the login page; from there to Register.
    await alice.goto('/');
    await expect(alice).toHaveURL(/\/login(\?|$)/);
    await expect(alice.getByTestId('login-input')).toBeVisible();
    await screenshot(alice, 'login');
    await alice.getByRole('link', { name: 'Register' }).click();
    await expect(alice).toHaveURL(/\/register/);
    await alice.getByTestId('register-username').fill('alice');
    await alice.getByTestId('register-email').fill('alice@example.com');
    await alice.getByTestId('register-password').fill(PASSWORD);
    await alice.getByTestId('register-submit').click();
    await expect(alice).toHaveURL(/\/channels\/@me$/);
    await expect(alice.getByTestId('current-user-name')).toHaveText('alice');

    // Alice creates a server; she lands in its #general.
    await alice.getByTestId('create-server-button').click();
    await alice.getByTestId('server-name-input').fill('Parley HQ');
    await alice.getByTestId('create-server-submit').click();
    await expect(alice).toHaveURL(/\/channels\/\d+\/\d+$/);
    const serverId = alice.url().split('/').at(-2)!;
    await expect(alice.getByTestId('chat-title')).toContainText('general');
    await expect(alice.getByTestId('server-item').and(alice.locator(`[data-server-id="${serverId}"]`))).toHaveAttribute('aria-current', 'page');

    // Alice creates an invite and copies the link.
    await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
    await alice.getByTestId('server-menu-button').click();
    await alice.getByTestId('invite-button').click();
    const linkInput = alice.getByTestId('invite-link');
    await expect(linkInput).toHaveValue(new RegExp(`^${origin()}/invite/[A-Za-z0-9_-]+$`));
    const link = await linkInput.inputValue();
    const code = await linkInput.getAttribute('data-code');
    expect(link.endsWith(`/invite/${code}`)).toBe(true);
    await alice.getByTestId('copy-invite').click();
    await expect(alice.getByTestId('copy-invite')).toHaveText('Copied');
    expect(await alice.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await alice.keyboard.press('Escape');

    // Bob opens the link logged out, creates an account from the invite page, and accepts the invite.
    await bob.goto(link);
    await expect(bob.getByTestId('invite-page')).toBeVisible();
    await expect(bob.getByTestId('invite-server-name')).toHaveText('Parley HQ');
    await bob.getByRole('link', { name: 'Create an account' }).click();
    await expect(bob).toHaveURL(/\/register\?next=/);
    await bob.getByTestId('register-username').fill('bob');
    await bob.getByTestId('register-email').fill('bob@example.com');
    await bob.getByTestId('register-password').fill(PASSWORD);
    await bob.getByTestId('register-submit').click();
    await expect(bob).toHaveURL(new RegExp(`/invite/${code}$`));
    await bob.getByTestId('invite-join').click();
    await expect(bob).toHaveURL(new RegExp(`/channels/${serverId}/\\d+$`));
    await expect(bob.getByTestId('chat-title')).toContainText('general');
    await expect(bob.locator(`[data-testid="server-item"][data-server-id="${serverId}"]`)).toBeVisible();
    await waitForChat(bob);

    // Both see each other in the member list (Alice without reloading).
    await expect(alice.getByTestId('member-list').getByText('bob', { exact: true })).toBeVisible();
    await expect(bob.getByTestId('member-list').getByText('alice', { exact: true })).toBeVisible();
  } finally {
    await closeAll(a, b);
  }
});

test('Alice and Bob chat both ways in real time in #general; the open channel is highlighted', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const { a, b } = p;
    await markPage(a.page);
    await markPage(b.page);

    const lines = [
      ['a', 'Hey Bob! Welcome to Parley.'],
      ['b', 'Thanks Alice, messages show up instantly here.'],
      ['a', 'Real time, both ways, no reload needed.'],
    ] as const;
    for (const [who, text] of lines) {
      const [from, to] = who === 'a' ? [a, b] : [b, a];
      await send(from.page, text);
      await expectMessageOnce(from.page, text);
      await expectMessageOnce(to.page, text);
    }
    // Authors are shown by display name; messages are attributed to the right user.
    await expect(messageRows(b.page, lines[0][1])).toHaveAttribute('data-author-id', p.alice.user.id);
    await expect(messageRows(a.page, lines[1][1])).toHaveAttribute('data-author-id', p.bob.user.id);
    await expect(a.page.getByTestId('message-author').filter({ hasText: 'Bob' })).toHaveCount(1);
    await expectNotReloaded(a.page);
    await expectNotReloaded(b.page);

    // The current channel (and server) is marked aria-current="page", and only that one.
    for (const { page } of [a, b]) {
      const current = page.locator('[data-testid="channel-item"][aria-current="page"]');
      await expect(current).toHaveCount(1);
      await expect(current).toHaveAttribute('data-channel-id', p.generalId);
      await expect(page.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`)).toHaveAttribute('aria-current', 'page');
    }

    await screenshot(a.page, 'chat');
    await screenshot(b.page, 'chat-bob');
    if (process.env.UPDATE_SCREENSHOT === '1') {
      const png = await a.page.screenshot({ animations: 'disabled' });
      const small = optimizePng(png);
      fs.writeFileSync(README_SCREENSHOT, small);
      console.log(`[e2e] wrote ${README_SCREENSHOT} (${Math.round(small.length / 1024)} KB)`);
    }
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('HTML in a message is shown as text, never run', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const payload = '<img src=x onerror=alert(1)>';
    await send(p.a.page, payload);
    for (const { page } of [p.a, p.b]) {
      await expectMessageOnce(page, payload);
      const content = messageRows(page, payload).getByTestId('message-content');
      await expect(content).toHaveText(payload);
      await expect(page.getByTestId('message-list').locator('img[src="x"]')).toHaveCount(0);
    }
    await p.b.page.waitForTimeout(1_000); // an onerror handler would have fired by now
    expect(p.a.dialogs, 'dialogs opened in Alice’s page').toEqual([]);
    expect(p.b.dialogs, 'dialogs opened in Bob’s page').toEqual([]);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('typing indicator: Alice sees "Bob is typing…" while Bob types', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const indicator = p.a.page.getByTestId('typing-indicator');
    await expect(indicator).toHaveText('');
    await p.b.page.getByTestId('composer-input').pressSequentially('Hello Ali', { delay: 60 });
    await expect(indicator, 'typing:user from the server should reach Alice').toHaveText('Bob is typing…', { timeout: 10_000 });
    // Bob's own indicator never shows himself.
    await expect(p.b.page.getByTestId('typing-indicator')).toHaveText('');
    // Sending stops it.
    await p.b.page.getByTestId('composer-input').press('Enter');
    await expectMessageOnce(p.a.page, 'Hello Ali');
    await expect(indicator).toHaveText('', { timeout: 10_000 });
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('DM: Alice finds Bob by username, writes; when Bob opens the DM, Alice sees "Seen"', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    await alice.getByTestId('home-button').click();
    await expect(alice).toHaveURL(/\/channels\/@me$/);
    await alice.getByTestId('new-dm-button').click();
    await alice.getByTestId('user-search-input').fill(p.bob.user.username);
    const result = alice.locator(`[data-testid="user-search-result"][data-user-id="${p.bob.user.id}"]`);
    await expect(result).toBeVisible();
    await result.click();
    await expect(alice).toHaveURL(/\/channels\/@me\/\d+$/);
    const dmId = alice.url().split('/').at(-1)!;
    await waitForChat(alice);
    await expect(alice.getByTestId('chat-title')).toContainText('Bob');

    const text = 'Are you free for a quick call?';
    await send(alice, text);
    await expectMessageOnce(alice, text);
    const status = messageRows(alice, text).getByTestId('message-status');
    await expect(status).toHaveAttribute('data-status', /^(sent|delivered)$/);

    // Bob (still in #general) sees the new DM in his list without reloading, and opens it.
    await bob.getByTestId('home-button').click();
    const dmItem = bob.locator(`[data-testid="dm-item"][data-channel-id="${dmId}"]`);
    await expect(dmItem).toBeVisible();
    await dmItem.click();
    await waitForChat(bob);
    await expectMessageOnce(bob, text);
    await expect(status, 'receipt:read from Bob should turn Alice’s mark into "Seen"').toHaveAttribute('data-status', 'seen', { timeout: 10_000 });
    await expect(status).toContainText('Seen');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('reload keeps the history and the session', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const texts = ['history one', 'history two', 'history three'];
    for (const [i, t] of texts.entries()) await send(i % 2 ? p.b.page : p.a.page, t);
    const ids: string[] = [];
    for (const t of texts) ids.push(await expectMessageOnce(p.b.page, t));

    for (const { page } of [p.b, p.a]) {
      await page.reload();
      await expect(page).toHaveURL(new RegExp(`${p.generalPath}$`));
      await waitForChat(page);
      await expect(page.getByTestId('current-user-name')).toHaveText(page === p.a.page ? 'Alice' : 'Bob');
      for (const [i, t] of texts.entries()) expect(await expectMessageOnce(page, t)).toBe(ids[i]);
      await expectNoDuplicateIds(page);
    }
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('dark theme: switch to dark, it persists across a reload', async ({ browser }) => {
  const alice = await registerApi('alice', 'Alice');
  const server = await api('POST', '/api/servers', { name: 'Night Owls' }, alice.accessToken);
  const a = await newUser(browser, alice);
  try {
    const page = a.page;
    await page.goto(`/channels/${server.id}`);
    await waitForChat(page);
    await send(page, 'Dark mode, easy on the eyes.');
    await expectMessageOnce(page, 'Dark mode, easy on the eyes.');
    const html = page.locator('html');
    await expect(html).toHaveAttribute('data-theme', 'light'); // system preference (light) by default

    await page.getByTestId('user-settings-button').click();
    await page.getByTestId('theme-option-dark').click();
    await expect(page.getByTestId('theme-option-dark')).toHaveAttribute('aria-checked', 'true');
    await expect(html).toHaveAttribute('data-theme', 'dark');
    await page.keyboard.press('Escape');

    await page.reload();
    await waitForChat(page);
    await expect(html).toHaveAttribute('data-theme', 'dark');
    await expectMessageOnce(page, 'Dark mode, easy on the eyes.');
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('.main') ?? document.body).backgroundColor);
    const [r, g, b] = (bg.match(/\d+/g) ?? ['255', '255', '255']).map(Number);
    expect(r + g + b, `main background ${bg} is dark`).toBeLessThan(3 * 100);
    await page.getByTestId('user-settings-button').click();
    await expect(page.getByTestId('theme-switch')).toHaveAttribute('data-theme-preference', 'dark');
    await page.keyboard.press('Escape');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await screenshot(page, 'chat-dark');
  } finally {
    await closeAll(a);
  }
});

test('phone-size layout (390x844): chat first, channels in a drawer', async ({ browser }) => {
  const alice = await registerApi('alice', 'Alice');
  const server = await api('POST', '/api/servers', { name: 'Pocket' }, alice.accessToken);
  const a = await newUser(browser, alice, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  try {
    const page = a.page;
    await page.goto(`/channels/${server.id}`);
    await waitForChat(page);
    await expect(page.getByTestId('composer-input')).toBeInViewport();
    await expect(page.getByTestId('sidebar')).not.toBeInViewport();
    await send(page, 'Hello from a phone');
    await expectMessageOnce(page, 'Hello from a phone');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, 'no horizontal scrolling').toBeLessThanOrEqual(390);
    await screenshot(page, 'phone-chat');

    await page.getByTestId('open-nav').click();
    await expect(page.getByTestId('sidebar')).toBeInViewport({ ratio: 0.9 });
    await expect(page.locator('[data-testid="channel-item"][aria-current="page"]')).toBeVisible();
    await screenshot(page, 'phone-nav');
  } finally {
    await closeAll(a);
  }
});

test('unread badges update live: a message in another channel badges it for Bob, opening it clears the badge', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const random = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'random' }, p.alice.accessToken);
    const bobRandom = p.b.page.locator(`[data-testid="channel-item"][data-channel-id="${random.id}"]`);
    await expect(bobRandom).toHaveCount(1); // the new channel appears live too
    await openChannel(p.a.page, `/channels/${p.serverId}/${random.id}`);
    await send(p.a.page, 'over here, Bob');
    await send(p.a.page, 'and again');
    await expect(bobRandom.getByTestId('unread-badge')).toHaveAttribute('data-count', '2');
    // The open channel never badges.
    await expect(p.b.page.locator(`[data-testid="channel-item"][data-channel-id="${p.generalId}"]`).getByTestId('unread-badge')).toHaveCount(0);
    await bobRandom.click();
    await expectMessageOnce(p.b.page, 'and again');
    await expect(bobRandom.getByTestId('unread-badge')).toHaveCount(0);
    // Away from the server (DM home), its icon shows unread as soon as a message arrives.
    const rail = p.b.page.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`);
    await p.b.page.getByTestId('home-button').click(); // in-app navigation: nothing is reloaded
    await expect(p.b.page).toHaveURL(/\/channels\/@me$/);
    await expect(rail).not.toHaveAccessibleName(/unread/);
    await send(p.a.page, 'are you still there?');
    await expect(rail).toHaveAccessibleName(/\(unread\)/);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('Esc in the composer keeps the draft (it marks the channel read instead)', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const box = p.a.page.getByTestId('composer-input');
    await box.fill('a draft I am not done with');
    await box.press('Escape');
    await expect(box).toHaveValue('a draft I am not done with');
    await box.press('Enter');
    await expectMessageOnce(p.b.page, 'a draft I am not done with');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('kick asks first: Cancel (or Esc) keeps the member, Kick removes them', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const page = p.a.page;
    const bobRow = page.locator(`[data-testid="member-item"][data-user-id="${p.bob.user.id}"]`);
    await expect(bobRow).toHaveCount(1);
    const openKick = async () => {
      await bobRow.getByRole('button', { name: 'Manage Bob' }).click();
      await page.getByRole('menuitem', { name: 'Kick Bob' }).click();
      await expect(page.getByTestId('confirm-kick-modal')).toBeVisible();
    };
    await openKick();
    await page.getByTestId('confirm-kick-modal').getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByTestId('confirm-kick-modal')).toHaveCount(0);
    await openKick();
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('confirm-kick-modal')).toHaveCount(0);
    // Neither removed Bob.
    const members = await api('GET', `/api/servers/${p.serverId}/members`, undefined, p.alice.accessToken);
    expect(JSON.stringify(members)).toContain(p.bob.user.id);
    await expect(bobRow).toHaveCount(1);

    await openKick();
    await page.getByTestId('confirm-kick').click();
    await expect(bobRow).toHaveCount(0);
    // Bob is told at once and taken out of the server: no stale channels, no composer that fails later.
    await expect(p.b.page.getByText('You were removed from "Parley HQ".')).toBeVisible();
    await expect(p.b.page).toHaveURL(/\/channels\/@me$/);
    await expect(p.b.page.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`)).toHaveCount(0);
    const after = await api('GET', `/api/servers/${p.serverId}/members`, undefined, p.alice.accessToken);
    expect(JSON.stringify(after)).not.toContain(p.bob.user.id);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('server restart: banner while down, then back; no lost or doubled messages', async ({ browser }) => {
  test.setTimeout(150_000);
  const p = await setupPair(browser);
  const state = readState();
  try {
    const before = ['before restart from Alice', 'before restart from Bob'];
    await send(p.a.page, before[0]);
    await send(p.b.page, before[1]);
    for (const t of before) {
      await expectMessageOnce(p.a.page, t);
      await expectMessageOnce(p.b.page, t);
    }

    await stopServer(state);
    for (const { page } of [p.a, p.b]) {
      const banner = page.getByTestId('connection-banner');
      await expect(banner).not.toHaveAttribute('data-state', 'connected');
      await expect(banner).toContainText(/reconnecting|connecting|offline/i);
    }

    await startServer(state);
    // The banner goes away by itself once the socket reconnects (the client backs off up to 10 s).
    await expect(p.b.page.getByTestId('connection-banner')).toHaveAttribute('data-state', 'connected', { timeout: 45_000 });
    await expect(p.b.page.getByTestId('connection-banner')).toHaveText('');
    const after = ['after restart one', 'after restart two'];
    for (const t of after) await send(p.b.page, t);

    await expect(p.a.page.getByTestId('connection-banner')).toHaveAttribute('data-state', 'connected', { timeout: 45_000 });
    await expect(p.a.page.getByTestId('connection-banner')).toHaveText('');
    for (const t of [...before, ...after]) {
      await expectMessageOnce(p.a.page, t);
      await expectMessageOnce(p.b.page, t);
    }
    await p.a.page.waitForTimeout(1_500); // late duplicates (catch-up racing the live event) would show by now
    for (const { page } of [p.a, p.b]) {
      const ids = await expectNoDuplicateIds(page);
      expect(ids).toHaveLength(4);
      for (const t of [...before, ...after]) await expect(messageRows(page, t)).toHaveCount(1);
    }
  } finally {
    await closeAll(p.a, p.b);
  }
});
