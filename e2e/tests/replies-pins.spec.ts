// Replies and pins (issue #15), two users in two browsers: a reply shows its quote live on the other side, jumps
// back to an original 500 messages back (around-paging, then "Jump to present"), shows "Original message was
// deleted" once the original is gone; the owner pins, the other member sees the system line and the pinned panel
// live, and the unpin.
import { expect, test } from '@playwright/test';
import { api, closeAll, expectMessageOnce, joinServer, messageRows, openChannel, registerApi, row, screenshot, seedOverSocket, send, setupPair } from './helpers';


test('a reply: the Replying-to bar, the quote live on the other side, and "Original message was deleted"', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    await send(bob, 'the question from Bob');
    const originalId = await expectMessageOnce(alice, 'the question from Bob');

    // The hover toolbar's Reply shows the bar; Esc in the composer cancels it.
    await row(alice, originalId).hover();
    await row(alice, originalId).getByTestId('reply-button').click();
    await expect(alice.getByTestId('reply-bar')).toContainText('Replying to Bob');
    await expect(alice.getByTestId('composer-input')).toBeFocused();
    await alice.getByTestId('composer-input').press('Escape');
    await expect(alice.getByTestId('reply-bar')).toHaveCount(0);

    // The keyboard way: More actions → Reply; then the send carries replyTo.
    await row(alice, originalId).getByTestId('message-menu-button').focus();
    await alice.keyboard.press('Enter');
    await alice.getByTestId('message-menu').getByRole('menuitem', { name: 'Reply' }).click();
    await expect(alice.getByTestId('reply-bar')).toContainText('Replying to Bob');
    await send(alice, 'the answer from Alice');
    await expect(alice.getByTestId('reply-bar')).toHaveCount(0);

    for (const page of [alice, bob]) {
      const reply = messageRows(page, 'the answer from Alice');
      await expect(reply).toHaveCount(1);
      const quote = reply.getByTestId('reply-quote');
      await expect(quote).toHaveAttribute('data-status', 'loaded');
      await expect(quote).toContainText('Bob');
      await expect(quote.getByTestId('reply-quote-text')).toHaveText('the question from Bob');
    }
    const replyId = await expectMessageOnce(bob, 'the answer from Alice');
    await screenshot(bob, 'reply-bob');
    const stored = await api('GET', `/api/channels/${p.generalId}/messages/${replyId}`, undefined, p.bob.accessToken);
    expect(stored.message.replyTo).toBe(originalId);

    // Bob deletes the original: the quote says so on both sides, live, and after a reload (the fetch gets a 404).
    await row(bob, originalId).hover();
    await row(bob, originalId).getByTestId('delete-message-button').click({ modifiers: ['Shift'] });
    for (const page of [alice, bob]) {
      await expect(messageRows(page, 'the answer from Alice').getByTestId('reply-quote')).toHaveText('Original message was deleted');
    }
    await openChannel(alice, p.generalPath);
    await expect(messageRows(alice, 'the answer from Alice').getByTestId('reply-quote')).toHaveText('Original message was deleted');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('a reply to a message 500 back jumps to it (around-paging) and back to the present', async ({ browser }) => {
  test.setTimeout(240_000);
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    // Five more members share the 500 fillers (the send limit is per user).
    const helpers = await Promise.all([1, 2, 3, 4, 5].map((i) => registerApi(`filler${i}`, `Filler ${i}`)));
    await Promise.all(helpers.map((h) => joinServer(p.serverId, p.alice, h)));

    const [originalId] = await seedOverSocket(alice, p.generalId, [{ token: p.bob.accessToken, content: 'a question from long ago' }]);
    const fillers = Array.from({ length: 500 }, (_, i) => ({ token: helpers[i % helpers.length].accessToken, content: `filler ${i + 1}` }));
    await seedOverSocket(alice, p.generalId, fillers);
    const [replyId] = await seedOverSocket(alice, p.generalId, [
      { token: p.alice.accessToken, content: 'answering the old question', replyTo: originalId },
    ]);

    await openChannel(bob, p.generalPath);
    const reply = row(bob, replyId);
    await expect(reply).toBeVisible();
    await expect(row(bob, originalId)).toHaveCount(0); // 500 messages back: not loaded
    const quote = reply.getByTestId('reply-quote');
    await expect(quote.getByTestId('reply-quote-text')).toHaveText('a question from long ago'); // fetched
    await expect(quote).toContainText('Bob');

    await quote.click();
    const original = row(bob, originalId);
    await expect(original).toBeVisible();
    await expect(original).toHaveClass(/highlighted/);
    await screenshot(bob, 'reply-jumped-bob');
    await expect(original.getByTestId('message-content')).toHaveText('a question from long ago');
    await expect(row(bob, replyId)).toHaveCount(0);
    // From there, newer messages load by scrolling down; "Jump to present" goes back to the newest.
    // (Any filler: five seeders send them concurrently, so which one lands next to the original varies.)
    await expect(bob.getByTestId('message-item').filter({ hasText: /filler \d+/ }).first()).toBeVisible();
    const present = bob.getByTestId('jump-to-present');
    await expect(present).toBeVisible();
    await present.click();
    await expect(row(bob, replyId)).toBeVisible();
    await expect(present).toHaveCount(0);
    await expect(row(bob, originalId)).toHaveCount(0);

    // Live again at the present: a new message shows.
    await send(alice, 'back to the present');
    await expectMessageOnce(bob, 'back to the present');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('pins: the owner pins, the member sees the system line and the pinned panel live; unpin removes it', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    await send(bob, 'worth pinning');
    const id = await expectMessageOnce(alice, 'worth pinning');
    await expectMessageOnce(bob, 'worth pinning');

    // Only owners and admins pin in a server: Bob (a member) gets no pin action.
    await row(bob, id).hover();
    await expect(row(bob, id).getByTestId('reply-button')).toBeVisible();
    await expect(row(bob, id).getByTestId('pin-button')).toHaveCount(0);

    // Bob opens the (empty) panel first, to see it fill live.
    await bob.getByTestId('pins-button').click();
    const bobPanel = bob.getByTestId('pins-panel');
    await expect(bobPanel).toBeVisible();
    await expect(bobPanel).toBeFocused();
    await expect(bobPanel.getByTestId('pins-empty')).toBeVisible();

    await row(alice, id).hover();
    await row(alice, id).getByTestId('pin-button').click();

    const line = bob.getByTestId('pin-system-line');
    await expect(line).toHaveCount(1);
    await expect(line).toHaveText(/📌\s*Alice pinned a message\.\s*See all pinned messages\./);
    await expect(line).toHaveAttribute('data-pinned-id', id);
    await expect(row(bob, id).getByTestId('pin-marker')).toBeVisible();
    await expect(bobPanel.getByTestId('pinned-item')).toHaveCount(1);
    await expect(bobPanel.getByTestId('pinned-item')).toContainText('worth pinning');
    await expect(bobPanel.getByTestId('pinned-unpin')).toHaveCount(0); // members may not unpin
    await screenshot(bob, 'pins-bob');

    // Esc closes the panel and gives focus back to the header button; "See all pinned messages" opens it again.
    await bobPanel.press('Escape');
    await expect(bobPanel).toHaveCount(0);
    await expect(bob.getByTestId('pins-button')).toBeFocused();
    await line.getByTestId('pin-line-see-all').click();
    await expect(bob.getByTestId('pins-panel').getByTestId('pinned-item')).toHaveCount(1);
    // "a message" jumps to the pinned one.
    await line.getByTestId('pin-line-jump').click();
    await expect(row(bob, id)).toHaveClass(/highlighted/);

    // Alice unpins from her panel: gone from Bob's panel and marker, live.
    await alice.getByTestId('pins-button').click();
    const alicePanel = alice.getByTestId('pins-panel');
    await expect(alicePanel.getByTestId('pinned-item')).toHaveCount(1);
    await alicePanel.getByTestId('pinned-unpin').click();
    await expect(alicePanel.getByTestId('pinned-item')).toHaveCount(0);
    await expect(bob.getByTestId('pins-panel').getByTestId('pinned-item')).toHaveCount(0);
    await expect(row(bob, id).getByTestId('pin-marker')).toHaveCount(0);
  } finally {
    await closeAll(p.a, p.b);
  }
});
