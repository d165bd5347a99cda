// Issue #16: the profile card (a click on a name or avatar, or the keyboard), and the self-set status (do not
// disturb shown to others, invisible shown as offline, also across a reload).
import { expect, test } from '@playwright/test';
import { closeAll, expectMessageOnce, messageRows, send, setupPair, waitForChat } from './helpers';

test('profile card: a click on a name shows display name, @username and presence; "Message" opens the DM; keyboard too', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const bob = p.b.page;
    await send(p.a.page, 'hello from alice');
    await expectMessageOnce(bob, 'hello from alice');
    const row = messageRows(bob, 'hello from alice');

    // A click on the author's name in the message list.
    await row.getByTestId('message-author').click();
    const card = bob.getByTestId('profile-card');
    await expect(card).toBeVisible();
    await expect(card.getByTestId('profile-card-name')).toHaveText('Alice');
    await expect(card.getByTestId('profile-card-username')).toHaveText(`@${p.alice.user.username}`);
    await expect(card.getByTestId('profile-card-status')).toHaveText(/Online/);
    await expect(card).toBeFocused();
    await bob.keyboard.press('Escape');
    await expect(card).toHaveCount(0);

    // The avatar opens it too; "Message" opens (creates) the DM with Alice.
    await row.getByTestId('profile-avatar').click();
    await expect(card).toBeVisible();
    await card.getByTestId('profile-card-message').click();
    await expect(bob).toHaveURL(/\/channels\/@me\/\d+$/);
    await expect(bob.getByTestId('chat-title')).toContainText('Alice');

    // Keyboard only: the member list's names are buttons (Enter opens, Esc closes and gives the focus back) ...
    await bob.goto(p.generalPath);
    await waitForChat(bob);
    const name = bob.locator(`[data-testid="member-item"][data-user-id="${p.alice.user.id}"]`).getByTestId('profile-name');
    await name.focus();
    await bob.keyboard.press('Enter');
    await expect(card).toBeVisible();
    await expect(card.getByTestId('profile-card-name')).toHaveText('Alice');
    await bob.keyboard.press('Escape');
    await expect(card).toHaveCount(0);
    await expect(name).toBeFocused();
    // ... and a message's "More actions" menu has "View profile" (the last item: ↑ opens the menu there).
    const menuButton = messageRows(bob, 'hello from alice').getByTestId('message-menu-button');
    await menuButton.focus();
    await bob.keyboard.press('ArrowUp');
    await expect(bob.getByTestId('message-menu').getByRole('menuitem', { name: 'View profile' })).toBeFocused();
    await bob.keyboard.press('Enter');
    await expect(card).toBeFocused();
    await expect(card.getByTestId('profile-card-name')).toHaveText('Alice');
    await bob.keyboard.press('Tab');
    await expect(card.getByTestId('profile-card-message')).toBeFocused();
    await bob.keyboard.press('Escape');
    await expect(card).toHaveCount(0);
    // Her own card has no "Message" button.
    await p.a.page.locator(`[data-testid="member-item"][data-user-id="${p.alice.user.id}"]`).getByTestId('profile-name').click();
    await expect(p.a.page.getByTestId('profile-card')).toBeVisible();
    await expect(p.a.page.getByTestId('profile-card-message')).toHaveCount(0);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('self-set status: Bob sees Alice as Do Not Disturb, then offline while she is invisible, even across her reload', async ({ browser }) => {
  test.setTimeout(120_000);
  const p = await setupPair(browser);
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    const aliceInBobsList = bob.locator(`[data-testid="member-item"][data-user-id="${p.alice.user.id}"]`);
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'online');

    const pick = async (status: string) => {
      await alice.getByTestId('user-settings-button').click();
      await alice.getByTestId(`status-option-${status}`).click();
      await expect(alice.getByTestId(`status-option-${status}`)).toHaveAttribute('aria-checked', 'true');
      await alice.keyboard.press('Escape');
    };

    await pick('dnd');
    await expect(alice.getByTestId('own-status')).toHaveText('Do Not Disturb');
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'dnd');
    await aliceInBobsList.getByTestId('profile-name').click();
    await expect(bob.getByTestId('profile-card-status')).toHaveText(/Do Not Disturb/);
    await bob.keyboard.press('Escape');

    // Kept in the settings: a reload comes back in do not disturb.
    await alice.reload();
    await waitForChat(alice);
    await expect(alice.getByTestId('own-status')).toHaveText('Do Not Disturb');
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'dnd');

    await pick('invisible');
    await expect(alice.getByTestId('own-status')).toHaveText('Invisible');
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'offline');

    // Watch every status Bob's page shows for Alice while she reloads: never online.
    await bob.evaluate((id) => {
      const w = window as unknown as { __seen: string[] };
      w.__seen = [];
      new MutationObserver(() => {
        const el = document.querySelector(`[data-testid="member-item"][data-user-id="${id}"]`);
        if (el) w.__seen.push(el.getAttribute('data-status') ?? '');
      }).observe(document.body, { subtree: true, attributes: true, childList: true, attributeFilter: ['data-status'] });
    }, p.alice.user.id);
    await alice.reload();
    await waitForChat(alice);
    await expect(alice.getByTestId('own-status')).toHaveText('Invisible');
    await send(alice, 'invisible but here'); // she can chat as usual
    await expectMessageOnce(bob, 'invisible but here');
    await bob.waitForTimeout(1_500);
    const seen = await bob.evaluate(() => (window as unknown as { __seen: string[] }).__seen);
    expect(seen.filter((s) => s !== 'offline'), `statuses Bob saw for Alice: ${seen.join(',')}`).toEqual([]);
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'offline');

    await pick('online');
    await expect(aliceInBobsList).toHaveAttribute('data-status', 'online');
  } finally {
    await closeAll(p.a, p.b);
  }
});
