// Issue #16, keyboard: Alt+↑/↓ between channels, Alt+Shift+↑/↓ to the next unread one, the Ctrl+K quick switcher
// (channels, people), the shortcut list (Ctrl+/ and the "?" button), and "jump to first unread".
import { expect, test } from '@playwright/test';
import { api, closeAll, expectMessageOnce, openChannel, registerApi, send, setupPair } from './helpers';

test('keyboard: Alt+↑/↓ between channels, Alt+Shift+↓ to the unread one, Ctrl+K to a channel and to a person, Ctrl+/ lists the keys', async ({
  browser,
}) => {
  const p = await setupPair(browser);
  try {
    const random = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'random' }, p.alice.accessToken);
    const news = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'news' }, p.alice.accessToken);
    const carol = await registerApi('carol', 'Carol Keys');
    await api('PUT', '/api/me/privacy', { allowDMsFrom: 'everyone' }, carol.accessToken); // Bob shares no server with her
    const bob = p.b.page;
    const path = (id: string) => `/channels/${p.serverId}/${id}`;
    await expect(bob.getByTestId('channel-item')).toHaveCount(3);
    const order = await bob.getByTestId('channel-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-channel-id')));
    expect(order).toEqual([p.generalId, random.id, news.id]);

    // From the composer (where a bare ↑ edits the last message): Alt+↓ moves on, wraps around, Alt+↑ goes back.
    await bob.getByTestId('composer-input').focus();
    await bob.keyboard.press('Alt+ArrowDown');
    await expect(bob).toHaveURL(new RegExp(`${path(random.id)}$`));
    await bob.keyboard.press('Alt+ArrowDown');
    await expect(bob).toHaveURL(new RegExp(`${path(news.id)}$`));
    await bob.keyboard.press('Alt+ArrowDown');
    await expect(bob).toHaveURL(new RegExp(`${path(p.generalId)}$`));
    await bob.keyboard.press('Alt+ArrowUp');
    await expect(bob).toHaveURL(new RegExp(`${path(news.id)}$`));
    await expect(bob.getByTestId('chat-title')).toContainText('news');

    // Alice writes in #random: Alt+Shift+↓ from #news skips the read #general and lands there.
    await openChannel(p.a.page, path(random.id));
    await send(p.a.page, 'unread over here');
    await expect(bob.locator(`[data-testid="channel-item"][data-channel-id="${random.id}"]`)).toHaveAttribute('data-unread', 'true');
    await bob.keyboard.press('Alt+Shift+ArrowDown');
    await expect(bob).toHaveURL(new RegExp(`${path(random.id)}$`));
    await expectMessageOnce(bob, 'unread over here');
    // Nothing else is unread: it stays.
    await bob.keyboard.press('Alt+Shift+ArrowDown');
    await bob.waitForTimeout(300);
    await expect(bob).toHaveURL(new RegExp(`${path(random.id)}$`));

    // Ctrl+K: fuzzy "gnrl" finds #general; arrows and Enter; Esc closes without going anywhere.
    await bob.keyboard.press('Control+k');
    const switcher = bob.getByTestId('quick-switcher');
    await expect(switcher).toBeVisible();
    await expect(bob.getByTestId('switcher-input')).toBeFocused();
    await bob.keyboard.press('Escape');
    await expect(switcher).toHaveCount(0);
    await bob.keyboard.press('Control+k');
    await bob.getByTestId('switcher-input').fill('gnrl');
    await expect(bob.getByTestId('switcher-item').first()).toContainText('general');
    await bob.keyboard.press('Enter');
    await expect(switcher).toHaveCount(0);
    await expect(bob).toHaveURL(new RegExp(`${path(p.generalId)}$`));

    // A person Bob shares nothing with yet, by display name: Enter opens (creates) the DM.
    await bob.keyboard.press('Control+k');
    await bob.getByTestId('switcher-input').fill('Carol Ke');
    const person = bob.getByTestId('switcher-item').filter({ hasText: 'Carol Keys' });
    await expect(person).toHaveAttribute('data-kind', 'person');
    await bob.keyboard.press('ArrowDown');
    await bob.keyboard.press('ArrowUp');
    await expect(person).toHaveAttribute('aria-selected', 'true');
    await bob.keyboard.press('Enter');
    await expect(bob).toHaveURL(/\/channels\/@me\/\d+$/);
    await expect(bob.getByTestId('chat-title')).toContainText('Carol Keys');
    const dms = await api('GET', '/api/dms', undefined, carol.accessToken);
    expect(dms.channels.length, 'Carol has the DM too').toBe(1);

    // The list of shortcuts: Ctrl+/ and the "?" button; Esc closes it.
    await bob.keyboard.press('Control+/');
    const list = bob.getByTestId('shortcut-list');
    await expect(list).toBeVisible();
    for (const text of ['Ctrl', 'Alt', 'Quick switcher', 'unread', 'Mark the channel read']) await expect(list).toContainText(text);
    await bob.keyboard.press('Escape');
    await expect(list).toHaveCount(0);
    await bob.getByTestId('shortcuts-button').click();
    await expect(list).toBeVisible();
    await bob.keyboard.press('Escape');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('jump to first unread: a "New messages" divider above the first unread, a bar while it is above the view', async ({ browser }) => {
  test.setTimeout(120_000);
  const p = await setupPair(browser);
  try {
    const random = await api('POST', `/api/servers/${p.serverId}/channels`, { name: 'random' }, p.alice.accessToken);
    const bob = p.b.page;
    await openChannel(bob, `/channels/${p.serverId}/${random.id}`);
    await send(p.a.page, 'read before');
    await expect(bob.locator(`[data-testid="channel-item"][data-channel-id="${p.generalId}"]`)).toHaveAttribute('data-unread', 'true');
    // Bob reads #general up to "read before" (and leaves), then Alice writes more than a screenful.
    await bob.locator(`[data-testid="channel-item"][data-channel-id="${p.generalId}"]`).click();
    await expectMessageOnce(bob, 'read before');
    await bob.locator(`[data-testid="channel-item"][data-channel-id="${random.id}"]`).click();
    await expect(bob.getByTestId('chat-title')).toContainText('random');
    await bob.waitForTimeout(1_500); // the read receipt is debounced; let it reach the server
    const input = p.a.page.getByTestId('composer-input');
    for (let i = 1; i <= 16; i++) {
      await input.fill(`unread ${i}\nsecond line\nthird line\nfourth line`);
      await input.press('Enter');
      await expect(input).toHaveValue('');
    }
    const general = bob.locator(`[data-testid="channel-item"][data-channel-id="${p.generalId}"]`);
    await expect(general.getByTestId('unread-badge')).toHaveAttribute('data-count', '16');
    await general.click();
    await expect(bob.getByTestId('message-list')).toHaveAttribute('data-loaded', 'true');
    // At the bottom, the first unread is far above: the bar says how many and jumps there.
    const bar = bob.getByTestId('unread-bar');
    await expect(bar).toBeVisible();
    await expect(bar).toContainText('16 new messages');
    await expect(bob.getByTestId('unread-divider')).not.toBeInViewport();
    await bar.getByTestId('jump-to-unread').click();
    const divider = bob.getByTestId('unread-divider');
    await expect(divider).toBeInViewport();
    await expect(divider).toHaveAccessibleName('New messages');
    // The divider sits right above "unread 1", not above the message Bob had read.
    const firstUnread = bob.getByTestId('message-item').filter({ has: bob.getByTestId('message-content').filter({ hasText: /^unread 1\D/ }) });
    await expect(firstUnread).toBeInViewport();
    const [dy, my] = await Promise.all([divider.boundingBox(), firstUnread.boundingBox()]);
    expect(my!.y).toBeGreaterThan(dy!.y);
    expect(my!.y - dy!.y).toBeLessThan(40);
    await expect(bar).toHaveCount(0);
    // "Mark as read" (and Esc) end it: back at the bottom the bar does not come back.
    await bob.keyboard.press('Shift+PageUp'); // the shortcut does the same jump; harmless here
    await bob.getByTestId('composer-input').focus();
    await bob.keyboard.press('Escape');
    await expect(divider).toHaveCount(0);
    await expect(bar).toHaveCount(0);
  } finally {
    await closeAll(p.a, p.b);
  }
});
