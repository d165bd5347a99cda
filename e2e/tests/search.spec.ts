// Message search (issue #18): Bob searches the server from another channel, finds a message 1,000 messages back
// with the matched word marked, grouped under its channel; choosing it opens #general at that message (around-
// paging) with the results still open. A DM search finds only DMs.
import { expect, test } from '@playwright/test';
import { api, closeAll, openChannel, registerApi, row, screenshot, seedOverSocket, setupPair } from './helpers';

test('search finds a message 1,000 back and a click lands on it', async ({ browser }) => {
  test.setTimeout(300_000);
  const p = await setupPair(browser);
  try {
    const bob = p.b.page;
    // Ten more members share the 1,000 fillers (the send limit is per user).
    const helpers = await Promise.all(Array.from({ length: 10 }, (_, i) => registerApi(`seeder${i}`, `Seeder ${i}`)));
    const invite = await api('POST', `/api/servers/${p.serverId}/invites`, {}, p.alice.accessToken); // one: invites are rate-limited
    await Promise.all(helpers.map((h) => api('POST', `/api/invites/${invite.code}/join`, undefined, h.accessToken)));
    const [needleId] = await seedOverSocket(p.a.page, p.generalId, [
      { token: p.alice.accessToken, content: 'the migration plan for the zeppelin hangar' },
    ]);
    const fillers = Array.from({ length: 1000 }, (_, i) => ({ token: helpers[i % helpers.length].accessToken, content: `filler ${i + 1}` }));
    await seedOverSocket(p.a.page, p.generalId, fillers);
    const random = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'random' }, p.alice.accessToken);
    const dm = await api('POST', '/api/dms', { userIds: [p.alice.user.id] }, p.bob.accessToken);
    await seedOverSocket(p.a.page, dm.id, [{ token: p.alice.accessToken, content: 'a zeppelin joke, privately' }]);
    // The index is written in the background and searchable within about a second.
    await expect
      .poll(async () => (await api('GET', `/api/search?serverId=${p.serverId}&q=zeppelin`, undefined, p.bob.accessToken)).total, {
        timeout: 30_000,
      })
      .toBe(1);

    await openChannel(bob, `/channels/${p.serverId}/${random.id}`);
    const input = bob.getByTestId('search-input');
    await input.fill(`zeppelin from:${p.alice.user.username}`);
    await input.press('Enter');
    const panel = bob.getByTestId('search-panel');
    await expect(panel.getByTestId('search-count')).toHaveText('1 result');
    await expect(panel.getByTestId('search-group')).toHaveText('#general');
    const result = panel.getByTestId('search-result');
    await expect(result).toHaveCount(1);
    await expect(result.getByTestId('search-mark')).toHaveText('zeppelin');
    await screenshot(bob, 'search-results');

    await result.click();
    await expect(bob).toHaveURL(new RegExp(`/channels/${p.serverId}/${p.generalId}\\?search=`));
    const target = row(bob, needleId);
    await expect(target).toBeVisible();
    await expect(target).toHaveClass(/highlighted/);
    await expect(target.getByTestId('message-content')).toHaveText('the migration plan for the zeppelin hangar');
    await expect(bob.getByTestId('message-item').filter({ hasText: 'filler 1000' })).toHaveCount(0); // a window 1,000 back
    await expect(bob.getByTestId('jump-to-present')).toBeVisible();
    await expect(panel).toBeVisible(); // the results stay open
    await screenshot(bob, 'search-jumped');

    // In a DM the box searches DMs only: the joke, not the server's message.
    await openChannel(bob, `/channels/@me/${dm.id}`);
    await bob.getByTestId('search-input').fill('zeppelin');
    await bob.getByTestId('search-input').press('Enter');
    await expect(panel.getByTestId('search-count')).toHaveText('1 result');
    await expect(panel.getByTestId('search-result')).toContainText('a zeppelin joke, privately');

    // A bad filter says what is wrong.
    await bob.getByTestId('search-input').fill('has:pdf');
    await bob.getByTestId('search-input').press('Enter');
    await expect(panel.getByTestId('search-error')).toContainText('has: takes link or file');
    await panel.getByTestId('search-close').click();
    await expect(panel).toHaveCount(0);
  } finally {
    await closeAll(p.a, p.b);
  }
});
