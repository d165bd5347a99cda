// Web app scenarios from issue #16: links to servers you cannot open, sending after being offline, drafts across
// reloads, group DMs from the UI, message actions by keyboard. Each test sets up its own users over REST.
import { expect, test, type Page } from '@playwright/test';
import {
  api,
  closeAll,
  expectMessageOnce,
  expectNoDuplicateIds,
  messageRows,
  newUser,
  registerApi,
  send,
  setupPair,
  waitForChat,
  type UserPage,
} from './helpers';

/** Counts the page's requests to /api/ from now on. */
function countApiRequests(page: Page): { readonly count: number; readonly paths: string[] } {
  const paths: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) paths.push(`${r.method()} ${u.pathname}`);
  });
  return {
    get count() {
      return paths.length;
    },
    paths,
  };
}

test('a link to a server you cannot open shows "no access" once, with a way back, and stops asking the API', async ({ browser }) => {
  let b: UserPage | undefined;
  try {
    const [alice, bob] = await Promise.all([registerApi('alice', 'Alice'), registerApi('bob', 'Bob')]);
    // A server Bob is not in, and one he was kicked from, and an id that never existed.
    const secret = await api('POST', '/api/servers', { name: 'Secret' }, alice.accessToken);
    const { channels } = await api('GET', `/api/servers/${secret.id}/channels`, undefined, alice.accessToken);
    const kicked = await api('POST', '/api/servers', { name: 'Kicked' }, alice.accessToken);
    const invite = await api('POST', `/api/servers/${kicked.id}/invites`, {}, alice.accessToken);
    await api('POST', `/api/invites/${invite.code}/join`, undefined, bob.accessToken);
    await api('DELETE', `/api/servers/${kicked.id}/members/${bob.user.id}`, undefined, alice.accessToken);

    b = await newUser(browser, bob);
    const { page } = b;
    for (const path of [`/channels/${secret.id}/${channels[0].id}`, `/channels/${kicked.id}`, '/channels/999999999999/888888888888']) {
      await page.goto(path);
      const requests = countApiRequests(page);
      const state = page.getByTestId('no-access');
      await expect(state, path).toBeVisible();
      await expect(state).toContainText("You don't have access to this server");
      // Stays there (no redirect loop, no spinner) and stays quiet: a handful of requests, not hundreds.
      await page.waitForTimeout(3_000);
      await expect(state).toBeVisible();
      await expect(page.locator('.main .spinner')).toHaveCount(0);
      expect(requests.count, `${path}: API requests in ~3 s: ${requests.paths.join(', ')}`).toBeLessThan(15);
    }
    // The way back.
    await page.getByTestId('no-access').getByRole('link', { name: /direct messages/i }).click();
    await expect(page).toHaveURL(/\/channels\/@me$/);
    await expect(page.getByTestId('dm-home')).toBeVisible();
  } finally {
    await closeAll(b);
  }
});

test('offline for more than 30 s: messages stay queued, then arrive once each, in order, when back online', async ({ browser }) => {
  test.setTimeout(120_000);
  const p = await setupPair(browser);
  try {
    const { page: alice } = p.a;
    const { page: bob } = p.b;
    await p.a.context.setOffline(true); // Chromium also drops the open WebSocket
    await expect(alice.getByTestId('connection-banner')).toContainText("You're offline. Messages will be sent when you're back online.");
    const input = alice.getByTestId('composer-input');
    for (const text of ['offline one', 'offline two']) {
      await input.fill(text);
      await input.press('Enter');
      await expect(input).toHaveValue('');
    }
    await expect(messageRows(alice, 'offline one')).toHaveAttribute('data-state', 'pending');
    await expect(messageRows(alice, 'offline two')).toHaveAttribute('data-state', 'pending');
    // Longer than the old give-up time (three attempts with a 10 s ack timeout each): still queued, not red.
    await alice.waitForTimeout(35_000);
    for (const text of ['offline one', 'offline two']) {
      await expect(messageRows(alice, text)).toHaveAttribute('data-state', 'pending');
    }
    await expect(alice.getByTestId('retry-button')).toHaveCount(0);
    await expect(messageRows(bob, 'offline one')).toHaveCount(0);

    await p.a.context.setOffline(false);
    const one = await expectMessageOnce(bob, 'offline one', 30_000);
    const two = await expectMessageOnce(bob, 'offline two', 30_000);
    expect(BigInt(one) < BigInt(two), 'stored in the order they were written').toBe(true);
    const ids = await expectNoDuplicateIds(bob);
    expect(ids.slice(-2)).toEqual([one, two]);
    expect(await expectMessageOnce(alice, 'offline one')).toBe(one);
    expect(await expectMessageOnce(alice, 'offline two')).toBe(two);
    // Exactly once on the server too.
    const { messages } = await api('GET', `/api/channels/${p.generalId}/messages?limit=50`, undefined, p.bob.accessToken);
    const texts = messages.map((m: { content: string }) => m.content);
    expect(texts.filter((t: string) => t.startsWith('offline '))).toHaveLength(2);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('a draft survives a reload and is gone once sent', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const { page: alice } = p.a;
    const input = alice.getByTestId('composer-input');
    await input.fill('a thought I have not finished');
    await alice.reload();
    await waitForChat(alice);
    await expect(input).toHaveValue('a thought I have not finished');
    // Bob (another user, another browser) has his own, empty composer.
    await expect(p.b.page.getByTestId('composer-input')).toHaveValue('');
    await input.press('End');
    await input.press('Enter');
    await expectMessageOnce(p.b.page, 'a thought I have not finished');
    await alice.reload();
    await waitForChat(alice);
    await expect(input).toHaveValue('');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('group DM from the UI: Alice picks Bob (from her server) and Carol (by username); all three see it with the names', async ({ browser }) => {
  const p = await setupPair(browser);
  let c: UserPage | undefined;
  try {
    const carol = await registerApi('carol', 'Carol');
    await api('PUT', '/api/me/privacy', { allowDMsFrom: 'everyone' }, carol.accessToken); // Alice shares no server with her
    const { page: alice } = p.a;
    await alice.getByTestId('home-button').click();
    await alice.getByTestId('new-dm-button').click();
    const modal = alice.getByTestId('new-dm-modal');
    // Before any search: people Alice shares a server with.
    const pick = (id: string) => modal.locator(`[data-testid="group-dm-pick"][data-user-id="${id}"]`);
    await pick(p.bob.user.id).check();
    await expect(modal.getByTestId('create-group-dm')).toBeDisabled(); // one person is not a group
    await modal.getByTestId('user-search-input').fill(carol.user.username);
    await pick(carol.user.id).check();
    await expect(modal.getByTestId('group-dm-selected')).toContainText('Bob');
    await expect(modal.getByTestId('group-dm-selected')).toContainText('Carol');
    await modal.getByTestId('create-group-dm').click();

    await expect(alice).toHaveURL(/\/channels\/@me\/\d+$/);
    const dmId = alice.url().split('/').at(-1)!;
    await waitForChat(alice);
    await expect(alice.getByTestId('chat-title')).toContainText(/Bob, Carol|Carol, Bob/);
    const item = alice.locator(`[data-testid="dm-item"][data-channel-id="${dmId}"]`);
    await expect(item).toContainText(/Bob, Carol|Carol, Bob/);
    await expect(item).toContainText('3 members');
    await send(alice, 'Hello you two');

    // Bob and Carol see it in their DM lists, titled with the others' names, and read the message.
    c = await newUser(browser, carol);
    for (const [page, names] of [
      [p.b.page, ['Alice', 'Carol']],
      [c.page, ['Alice', 'Bob']],
    ] as const) {
      if (page === c.page) await page.goto('/channels/@me');
      else await page.getByTestId('home-button').click();
      const theirs = page.locator(`[data-testid="dm-item"][data-channel-id="${dmId}"]`);
      // The names of the other two (in the server's participant order), not their own.
      await expect(theirs.locator('.dm-text .truncate')).toHaveText(new RegExp(`^(${names[0]}, ${names[1]}|${names[1]}, ${names[0]})$`));
      await expect(theirs).toContainText('3 members');
      await theirs.click();
      await waitForChat(page);
      await expectMessageOnce(page, 'Hello you two');
    }
    // The server agrees: one DM with the three of them.
    const { channels } = await api('GET', '/api/dms', undefined, carol.accessToken);
    const dm = channels.find((x: { id: string }) => x.id === dmId);
    expect(dm.participants.map((u: { id: string }) => u.id).sort()).toEqual([p.alice.user.id, p.bob.user.id, carol.user.id].sort());
  } finally {
    await closeAll(p.a, p.b, c);
  }
});

test('keyboard only: reach a message\'s actions with Tab, edit it and delete it through the menu', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const { page: alice } = p.a;
    const bob = p.b.page;
    const kb = alice.keyboard;
    const focused = () => alice.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
    // The composer has focus on arrival; write two messages.
    await expect(alice.getByTestId('composer-input')).toBeFocused();
    await kb.type('first by keyboard');
    await kb.press('Enter');
    await kb.type('second by keyboard');
    await kb.press('Enter');
    const firstId = await expectMessageOnce(alice, 'first by keyboard');
    const secondId = await expectMessageOnce(alice, 'second by keyboard');
    await expectMessageOnce(bob, 'second by keyboard');

    // Shift+Tab from the composer lands on the newest own message's "More actions"; once more, the one before.
    const menuButton = (id: string) => alice.locator(`[data-message-id="${id}"]`).getByTestId('message-menu-button');
    await kb.press('Shift+Tab');
    await expect(menuButton(secondId)).toBeFocused();
    await expect(menuButton(secondId)).toBeVisible(); // the toolbar shows while it has focus
    await kb.press('Shift+Tab');
    await expect(menuButton(firstId)).toBeFocused();
    await kb.press('Tab');
    await expect(menuButton(secondId)).toBeFocused();

    // Open, move around, Esc closes and gives focus back.
    await kb.press('Enter');
    const menu = alice.getByTestId('message-menu');
    await expect(menu).toBeVisible();
    await expect(menu.getByRole('menuitem', { name: 'Edit message' })).toBeFocused();
    await kb.press('ArrowDown');
    await expect(menu.getByRole('menuitem', { name: 'Delete message' })).toBeFocused();
    await kb.press('Escape');
    await expect(menu).toHaveCount(0);
    await expect(menuButton(secondId)).toBeFocused();
    await expect(alice.getByTestId('composer-input')).toHaveValue(''); // Esc did not reach anything else

    // Edit: menu → Edit message → the edit box has focus; Enter saves; focus returns to the button.
    await kb.press('Enter');
    await kb.press('Enter');
    await expect(alice.getByTestId('edit-input')).toBeFocused();
    await kb.press('ControlOrMeta+a');
    await kb.type('second, edited by keyboard');
    await kb.press('Enter');
    await expectMessageOnce(bob, 'second, edited by keyboard');
    await expect(messageRows(bob, 'second, edited by keyboard').getByTestId('message-edited')).toBeVisible();
    await expect(menuButton(secondId)).toBeFocused();

    // Delete: ↑ opens the menu on its last item (View profile), ↑ past Add reaction, Pin message and Reply is Delete
    // message; the confirmation has focus; Tab to Delete, Enter.
    await kb.press('ArrowUp');
    await expect(menu.getByRole('menuitem', { name: 'View profile' })).toBeFocused();
    await kb.press('ArrowUp');
    await expect(menu.getByRole('menuitem', { name: 'Add reaction' })).toBeFocused();
    await kb.press('ArrowUp');
    await expect(menu.getByRole('menuitem', { name: 'Pin message' })).toBeFocused(); // replies and pins (issue #15)
    await kb.press('ArrowUp');
    await expect(menu.getByRole('menuitem', { name: 'Reply' })).toBeFocused();
    await kb.press('ArrowUp');
    await expect(menu.getByRole('menuitem', { name: 'Delete message' })).toBeFocused();
    await kb.press('Enter');
    const confirm = alice.getByTestId('confirm-delete-modal');
    await expect(confirm).toBeVisible();
    await kb.press('Tab');
    await expect(confirm.getByTestId('confirm-delete')).toBeFocused();
    await kb.press('Enter');
    await expect(alice.locator(`[data-message-id="${secondId}"]`)).toHaveCount(0);
    await expect(bob.locator(`[data-message-id="${secondId}"]`)).toHaveCount(0);
    await expectMessageOnce(bob, 'first by keyboard');
    expect(await focused()).not.toBe('confirm-delete');
  } finally {
    await closeAll(p.a, p.b);
  }
});
