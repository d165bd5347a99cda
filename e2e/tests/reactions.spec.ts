// Reactions (issue #15): Alice and Bob, each in their own browser context, react to a message; each sees the
// other's reactions live, with counts and who reacted, and a reload keeps them.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { closeAll, expectMessageOnce, messageRows, openChannel, screenshot, send, setupPair } from './helpers';

/** The reaction chip of `emoji` under the message `text`. */
function chip(page: Page, text: string, emoji: string): Locator {
  return messageRows(page, text).locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);
}

async function expectChip(page: Page, text: string, emoji: string, count: number, mine: boolean) {
  const c = chip(page, text, emoji);
  await expect(c).toHaveAttribute('data-count', String(count));
  await expect(c).toHaveAttribute('aria-pressed', String(mine));
}

/** Hovers the chip and returns its tooltip text. */
async function tooltip(page: Page, text: string, emoji: string): Promise<Locator> {
  const c = chip(page, text, emoji);
  await c.hover();
  const tip = messageRows(page, text).locator('[data-testid="reaction-tooltip"].visible');
  await expect(tip).toHaveCount(1);
  return tip;
}

test('reactions: Alice reacts, Bob sees it live and joins in, tooltips name both, Alice takes hers back, a reload keeps it', async ({ browser }) => {
  const p = await setupPair(browser, 'Reaction Club');
  try {
    const { a, b } = p;
    const text = 'who likes reactions?';
    await send(a.page, text);
    await expectMessageOnce(a.page, text);
    await expectMessageOnce(b.page, text);

    // Alice opens the picker from the message's toolbar; the quick row answers at once.
    await messageRows(a.page, text).hover();
    await messageRows(a.page, text).getByTestId('add-reaction-button').click();
    const picker = a.page.getByTestId('reaction-picker');
    await expect(picker).toBeVisible();
    await picker.getByRole('button', { name: 'React with 👍' }).click();
    await expect(picker).toHaveCount(0);
    await expectChip(a.page, text, '👍', 1, true);

    // Bob sees it live, not as his.
    await expectChip(b.page, text, '👍', 1, false);

    // Bob joins in with the same emoji by clicking the chip: 2 on both sides.
    await chip(b.page, text, '👍').click();
    await expectChip(b.page, text, '👍', 2, true);
    await expectChip(a.page, text, '👍', 2, true);
    await expect(await tooltip(b.page, text, '👍')).toHaveText('Alice and You reacted with 👍');
    await expect(await tooltip(a.page, text, '👍')).toHaveText('You and Bob reacted with 👍');

    // The full picker (its own lazily loaded chunk) searches every emoji: Bob adds a rocket.
    await messageRows(b.page, text).getByTestId('reaction-bar-add').click();
    const full = b.page.getByTestId('reaction-picker');
    const search = full.getByRole('searchbox').or(full.locator('input')).first();
    await expect(search).toBeVisible();
    await search.fill('rocket');
    await full.getByRole('button', { name: /rocket/i }).or(full.getByRole('gridcell', { name: /rocket/i })).first().click();
    await expectChip(b.page, text, '🚀', 1, true);
    await expectChip(a.page, text, '🚀', 1, false);
    await screenshot(b.page, 'reactions');

    // Alice takes her 👍 back, with the keyboard: 1 left, Bob's.
    await chip(a.page, text, '👍').focus();
    await a.page.keyboard.press('Enter');
    await expectChip(a.page, text, '👍', 1, false);
    await expectChip(b.page, text, '👍', 1, true);
    await expect(await tooltip(a.page, text, '👍')).toHaveText('Bob reacted with 👍');

    // A reload (history from the server) shows the same state on both sides.
    await Promise.all([openChannel(a.page, p.generalPath), openChannel(b.page, p.generalPath)]);
    await expectChip(a.page, text, '👍', 1, false);
    await expectChip(b.page, text, '👍', 1, true);
    await expectChip(a.page, text, '🚀', 1, false);
    await expectChip(b.page, text, '🚀', 1, true);
    await expect(await tooltip(a.page, text, '👍')).toHaveText('Bob reacted with 👍');
  } finally {
    await closeAll(p.a, p.b);
  }
});
