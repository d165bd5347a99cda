// Issue #16, movable UI: the channel column and the member list resize by dragging their edge or with the arrow keys
// on the focused separator, and keep their width across a reload; the channel list collapses (keeping the open and
// unread channels); on a phone the member list is a drawer and the DM home lists the conversations.
import { expect, test, type Locator } from '@playwright/test';
import { api, closeAll, newUser, openChannel, send, setupPair, waitForChat, type UserPage } from './helpers';

const widthOf = async (l: Locator) => Math.round((await l.boundingBox())!.width);

async function dragBy(page: UserPage['page'], handle: Locator, dx: number) {
  const box = (await handle.boundingBox())!;
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx / 2, y, { steps: 3 });
  await page.mouse.move(x + dx, y, { steps: 3 });
  await page.mouse.up();
}

test('resizing: drag or arrow keys on the panel edges, remembered across a reload; the channel list collapses', async ({ browser }) => {
  const p = await setupPair(browser);
  try {
    const random = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'random' }, p.alice.accessToken);
    const bob = p.b.page;
    const column = bob.getByTestId('channel-column');
    const members = bob.getByTestId('member-list');
    const colEdge = bob.getByTestId('channel-resizer');
    const memEdge = bob.getByTestId('member-resizer');
    await expect(bob.getByTestId('channel-item')).toHaveCount(2);
    expect(await widthOf(column)).toBe(240);
    expect(await widthOf(members)).toBe(240);

    // Drag: the channel column's right edge 80 px right, the member list's left edge 60 px left.
    await dragBy(bob, colEdge, 80);
    await expect.poll(() => widthOf(column)).toBe(320);
    await dragBy(bob, memEdge, -60);
    await expect.poll(() => widthOf(members)).toBe(300);
    // Keyboard: a focusable separator with its value; ← narrows the channel column, ← widens the member list.
    await expect(colEdge).toHaveAttribute('role', 'separator');
    await expect(colEdge).toHaveAccessibleName('Resize the channel list');
    await colEdge.focus();
    await bob.keyboard.press('ArrowLeft');
    await bob.keyboard.press('ArrowLeft');
    await expect(colEdge).toHaveAttribute('aria-valuenow', '288');
    expect(await widthOf(column)).toBe(288);
    await memEdge.focus();
    await bob.keyboard.press('ArrowLeft');
    await expect(memEdge).toHaveAttribute('aria-valuenow', '316');
    // Limits hold.
    await colEdge.focus();
    await bob.keyboard.press('Home');
    await expect(colEdge).toHaveAttribute('aria-valuenow', '180');
    await bob.keyboard.press('Shift+ArrowRight');
    await expect(colEdge).toHaveAttribute('aria-valuenow', '244');

    await bob.reload();
    await waitForChat(bob);
    expect(await widthOf(column)).toBe(244);
    expect(await widthOf(members)).toBe(316);

    // Collapse the channel list: the open channel stays, an unread one shows up; it stays collapsed after a reload.
    const toggle = bob.getByTestId('channel-group-toggle');
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await expect(bob.getByTestId('channel-item')).toHaveCount(1);
    await expect(bob.getByTestId('channel-item')).toHaveAttribute('data-channel-id', p.generalId);
    await openChannel(p.a.page, `/channels/${p.serverId}/${random.id}`);
    await send(p.a.page, 'something new in random');
    await expect(bob.getByTestId('channel-item')).toHaveCount(2);
    await expect(bob.locator(`[data-testid="channel-item"][data-channel-id="${random.id}"]`)).toHaveAttribute('data-unread', 'true');
    await bob.reload();
    await waitForChat(bob);
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await toggle.press('Enter');
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await expect(bob.getByTestId('channel-item')).toHaveCount(2);
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('phone: the member list opens as a drawer from the header; the DM home lists the conversations', async ({ browser }) => {
  const p = await setupPair(browser);
  let phone: UserPage | undefined;
  try {
    await api('POST', '/api/dms', { userIds: [p.bob.user.id] }, p.alice.accessToken);
    phone = await newUser(browser, p.bob, { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
    const page = phone.page;
    await openChannel(page, p.generalPath);
    const toggle = page.getByTestId('toggle-members');
    await expect(toggle).toBeVisible();
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await expect(page.getByTestId('member-list')).toHaveCount(0);
    await toggle.click();
    const list = page.getByTestId('member-list');
    await expect(list).toBeInViewport();
    await expect(list.getByTestId('member-item')).toHaveCount(2);
    await expect(page.getByTestId('channel-resizer')).toBeHidden(); // no resizing on a phone
    await page.getByTestId('members-scrim').click({ position: { x: 20, y: 400 } });
    await expect(list).toHaveCount(0);
    await toggle.click();
    await expect(list).toBeInViewport();
    await page.keyboard.press('Escape'); // Esc closes it too
    await expect(list).toHaveCount(0);

    // The DM home is not empty: it lists the conversations, and one tap opens it.
    await page.goto('/channels/@me');
    const home = page.getByTestId('dm-home-list');
    await expect(home.getByTestId('dm-item')).toHaveCount(1);
    await expect(home).toContainText('Alice');
    await home.getByTestId('dm-item').click();
    await expect(page).toHaveURL(/\/channels\/@me\/\d+$/);
    await waitForChat(page);
    await expect(page.getByTestId('chat-title')).toContainText('Alice');
  } finally {
    await closeAll(p.a, p.b, phone);
  }
});
