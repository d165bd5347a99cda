// Issue #16 item 12, the smaller first-ten-minutes points: a new server says how to invite friends, an invite to a
// server you are already in opens it, and people are found by display name.
import { expect, test } from '@playwright/test';
import { api, closeAll, newUser, openChannel, registerApi, type UserPage } from './helpers';

test('a new server prompts "invite your friends" until someone joins; an invite to a server you are in says "Open server"', async ({ browser }) => {
  let a: UserPage | undefined;
  let b: UserPage | undefined;
  try {
    const [alice, bob] = await Promise.all([registerApi('alice', 'Alice'), registerApi('bob', 'Bob')]);
    const server = await api('POST', '/api/servers', { name: 'Brand New' }, alice.accessToken);
    const { channels } = await api('GET', `/api/servers/${server.id}/channels`, undefined, alice.accessToken);
    a = await newUser(browser, alice);
    const { page } = a;
    await openChannel(page, `/channels/${server.id}/${channels[0].id}`);
    const prompt = page.getByTestId('invite-prompt');
    await expect(prompt).toBeVisible();
    await expect(prompt).toContainText('Invite your friends to Brand New');
    await page.getByTestId('invite-prompt-button').click();
    await expect(page.getByTestId('invite-link')).toHaveValue(/\/invite\/\w+/);
    const link = await page.getByTestId('invite-link').inputValue();
    const code = link.split('/invite/')[1];
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('invite-link')).toHaveCount(0);

    // Bob follows the link and joins; Alice's prompt goes away at once.
    b = await newUser(browser, bob);
    await b.page.goto(`/invite/${code}`);
    await b.page.getByTestId('invite-join').click();
    await expect(b.page).toHaveURL(new RegExp(`/channels/${server.id}/\\d+$`));
    await expect(prompt).toHaveCount(0);

    // The same link again, now that Bob is a member: no second "Accept invite", a way in instead.
    await b.page.goto(`/invite/${code}`);
    await expect(b.page.getByTestId('invite-already-member')).toContainText("You're already a member");
    await expect(b.page.getByTestId('invite-join')).toHaveCount(0);
    await b.page.getByTestId('invite-open-server').click();
    await expect(b.page).toHaveURL(new RegExp(`/channels/${server.id}/\\d+$`));
  } finally {
    await closeAll(a, b);
  }
});

test('user search finds people by display name, not only by username prefix', async ({ browser }) => {
  let a: UserPage | undefined;
  try {
    const [alice, quinn] = await Promise.all([registerApi('alice', 'Alice'), registerApi('qz', 'Quentin Zebrafish')]);
    a = await newUser(browser, alice);
    const { page } = a;
    await page.goto('/channels/@me');
    await page.getByTestId('new-dm-button').click();
    await page.getByTestId('user-search-input').fill('zebraf');
    const result = page.locator(`[data-testid="user-search-result"][data-user-id="${quinn.user.id}"]`);
    await expect(result).toBeVisible();
    await expect(result).toContainText('Quentin Zebrafish');
  } finally {
    await closeAll(a);
  }
});

// Screens are lazy chunks (initial JavaScript budget): the others are fetched once the first screen is idle, so
// logging out while offline still shows the login page instead of failing to download it.
test('the other screens are prefetched: logging out while offline still opens the login page', async ({ browser }) => {
  let a: UserPage | undefined;
  try {
    const alice = await registerApi('alice', 'Alice');
    a = await newUser(browser, alice);
    const { page } = a;
    await page.goto('/channels/@me');
    await expect(page.getByTestId('dm-home')).toBeVisible();
    await expect
      .poll(() => page.evaluate(() => performance.getEntriesByType('resource').some((e) => /\/assets\/AuthPages-[^/]+\.js$/.test(e.name))))
      .toBe(true);
    await a.context.setOffline(true);
    await page.getByTestId('user-settings-button').click();
    await page.getByTestId('logout-button').click();
    await expect(page.getByRole('heading', { name: 'Welcome back!' })).toBeVisible();
    await expect(page.getByTestId('screen-error')).toHaveCount(0);
  } finally {
    await closeAll(a);
  }
});
