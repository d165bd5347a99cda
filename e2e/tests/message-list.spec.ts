// The message list's scrolling (virtua since issue #16's bundle work replaced react-virtuoso): it opens at the
// newest message; scrolling up loads older pages while what is on screen stays where it was; new messages from
// others follow the view at the bottom and are counted while scrolled up; my own send always goes to the bottom.
import { expect, test, type Page } from '@playwright/test';
import { closeAll, expectMessageOnce, expectNoDuplicateIds, joinServer, openChannel, registerApi, row, seedOverSocket, send, setupPair } from './helpers';

const newest = (ids: string[]) => ids.reduce((a, b) => (BigInt(a) > BigInt(b) ? a : b));

/** The first message row at or below the top edge of the list's view. */
async function topRowId(page: Page): Promise<string> {
  return page.getByTestId('message-scroller').evaluate((el) => {
    const top = el.getBoundingClientRect().top;
    const rows = [...el.querySelectorAll<HTMLElement>('[data-testid="message-item"]')]
      .filter((r) => r.getBoundingClientRect().top >= top - 1)
      .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
    return rows[0]?.dataset.messageId ?? '';
  });
}

test('the message list opens at the bottom, loads older pages in place, follows or counts new messages', async ({ browser }) => {
  test.setTimeout(180_000);
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    // Three more members share 150 messages (the send limit is per user): three pages of history above the first.
    const helpers = await Promise.all([1, 2, 3].map((i) => registerApi(`history${i}`, `History ${i}`)));
    await Promise.all(helpers.map((h) => joinServer(p.serverId, p.alice, h)));
    const ids = await seedOverSocket(
      alice,
      p.generalId,
      Array.from({ length: 150 }, (_, i) => ({ token: helpers[i % helpers.length].accessToken, content: `history ${i + 1}` })),
    );

    await openChannel(bob, p.generalPath);
    const scroller = bob.getByTestId('message-scroller');
    await expect(row(bob, newest(ids))).toBeInViewport();
    await expect(bob.getByTestId('channel-start')).toHaveCount(0);
    await expect(bob.getByTestId('jump-to-bottom')).toHaveCount(0);

    // Up to the top, page by page: each page arrives above, and the row that was at the top stays in view, near
    // where it was (without keeping the position it would be pushed down by a page of messages). Each older page is
    // held until the row at the top is noted, so that the check does not depend on timing.
    const held: { release?: () => void } = {};
    await bob.route(/\/api\/channels\/\d+\/messages\?.*before=/, async (route) => {
      await new Promise<void>((resolve) => (held.release = resolve));
      await route.continue();
    });
    const start = bob.getByTestId('channel-start');
    let pages = 0;
    for (; ; pages++) {
      expect(pages, 'the start of the channel within a few pages').toBeLessThan(6);
      await scroller.evaluate((el) => el.scrollTo({ top: 0 }));
      const loading = bob.getByRole('status', { name: 'Loading older messages' });
      await expect(loading.or(start)).toBeVisible();
      if (await start.isVisible()) break;
      const anchor = await topRowId(bob);
      expect(anchor, 'a message row at the top of the view').not.toBe('');
      const y = (await row(bob, anchor).boundingBox())!.y;
      await expect.poll(() => held.release !== undefined).toBe(true);
      // (The rows in the DOM are only those near the view, so their number says nothing; the spinner going away does.)
      const page = bob.waitForResponse(/\/api\/channels\/\d+\/messages\?.*before=/);
      held.release?.();
      held.release = undefined;
      expect((await page).ok()).toBe(true);
      await expect(loading).toHaveCount(0);
      await expect(row(bob, anchor)).toBeInViewport();
      expect(Math.abs((await row(bob, anchor).boundingBox())!.y - y), 'the top row stays in place as older messages arrive').toBeLessThan(120);
    }
    expect(pages, 'older pages loaded by scrolling up').toBeGreaterThanOrEqual(2);
    await bob.unroute(/\/api\/channels\/\d+\/messages\?.*before=/);
    await expect(start).toBeInViewport();
    await expectMessageOnce(bob, 'history 1');
    await expectNoDuplicateIds(bob);

    // Scrolled up, a message from Alice is counted, not scrolled to; the button goes down to it.
    await send(alice, 'while you were up there');
    const newMessages = bob.getByTestId('new-messages-button');
    await expect(newMessages).toHaveText(/1 new message\b/);
    await expect(bob.getByTestId('channel-start')).toBeInViewport();
    await newMessages.click();
    const id = await expectMessageOnce(bob, 'while you were up there');
    await expect(row(bob, id)).toBeInViewport();
    await expect(newMessages).toHaveCount(0);

    // At the bottom, the next one comes into view by itself.
    await send(alice, 'and now at the bottom');
    const next = await expectMessageOnce(bob, 'and now at the bottom');
    await expect(row(bob, next)).toBeInViewport();
    await expect(bob.getByTestId('jump-to-bottom')).toHaveCount(0);

    // My own send goes to the bottom from anywhere.
    await scroller.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect(bob.getByTestId('jump-to-bottom')).toBeVisible();
    await send(bob, 'sent from the top');
    const mine = await expectMessageOnce(bob, 'sent from the top');
    await expect(row(bob, mine)).toBeInViewport();
  } finally {
    await closeAll(p.a, p.b);
  }
});
