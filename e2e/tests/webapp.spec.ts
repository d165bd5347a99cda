// Web app scenarios from issue #16: links to servers you cannot open, sending after being offline, drafts across
// reloads, group DMs from the UI, message actions by keyboard. Each test sets up its own users over REST.
import { expect, test, type Page } from '@playwright/test';
import { api, closeAll, newUser, registerApi, type UserPage } from './helpers';

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
