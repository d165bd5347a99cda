// Issue #22 (findings 4 and 5): bans that stick, invites that can be revoked, blocks and DM consent, in the web app.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { api, closeAll, expectMessageOnce, messageRows, newUser, registerApi, send, setupPair, waitForChat, type UserPage } from './helpers';

test('ban from the member list: the banned user is out at once and no invite lets them back until unbanned', async ({ browser }) => {
  const p = await setupPair(browser, 'Ban Hall');
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    // An invite Bob could try later, made before the ban by someone else than Bob.
    const invite = await api('POST', `/api/servers/${p.serverId}/invites`, { expiresInSeconds: 0 }, p.alice.accessToken);

    const bobRow = alice.locator(`[data-testid="member-item"][data-user-id="${p.bob.user.id}"]`);
    await bobRow.getByRole('button', { name: 'Manage Bob' }).click();
    await alice.getByTestId('ban-member').click();
    const dialog = alice.getByTestId('confirm-ban-modal');
    await expect(dialog).toBeVisible();
    await dialog.getByTestId('ban-reason').fill('spamming links');
    await dialog.getByTestId('confirm-ban').click();
    await expect(bobRow).toHaveCount(0);

    // Bob is told and taken out (the kick path: his sockets left the rooms).
    await expect(bob.getByText('You were banned from "Ban Hall".')).toBeVisible();
    await expect(bob).toHaveURL(/\/channels\/@me$/);
    await expect(bob.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`)).toHaveCount(0);

    // The invite link: Bob sees the server, but accepting says why it fails.
    await bob.goto(`/invite/${invite.code}`);
    await expect(bob.getByTestId('invite-server-name')).toHaveText('Ban Hall');
    await bob.getByTestId('invite-join').click();
    await expect(bob.getByTestId('invite-join-error')).toContainText('banned');
    const servers = await api('GET', '/api/servers', undefined, p.bob.accessToken);
    expect(servers.servers.map((s: { id: string }) => s.id)).not.toContain(p.serverId);

    // Alice sees the ban, with its reason, in Server settings → Bans, and lifts it.
    await alice.getByTestId('server-menu-button').click();
    await alice.getByTestId('server-settings-button').click();
    await alice.getByTestId('settings-tab-bans').click();
    const ban = alice.locator(`[data-testid="ban-row"][data-user-id="${p.bob.user.id}"]`);
    await expect(ban).toContainText('Reason: spamming links');
    await ban.getByTestId('unban').click();
    await expect(ban).toHaveCount(0);
    await alice.keyboard.press('Escape');

    // Now the same link works.
    await bob.getByTestId('invite-join').click();
    await expect(bob).toHaveURL(new RegExp(`/channels/${p.serverId}`));
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('revoking an invite in Server settings: the link is dead at once', async ({ browser }) => {
  const p = await setupPair(browser, 'Revoke Hall');
  let c: UserPage | undefined;
  try {
    const alice = p.a.page;
    await alice.getByTestId('server-menu-button').click();
    await alice.getByTestId('invite-button').click();
    const link = alice.getByTestId('invite-link');
    await expect(link).toHaveAttribute('data-code', /.+/);
    const code = (await link.getAttribute('data-code'))!;
    await expect(alice.getByTestId('invite-terms')).toContainText('Expires in 7 days');
    await alice.keyboard.press('Escape');

    await alice.getByTestId('server-menu-button').click();
    await alice.getByTestId('server-settings-button').click();
    await alice.getByTestId('settings-tab-invites').click();
    const row = alice.locator(`[data-testid="invite-row"][data-code="${code}"]`);
    await expect(row).toContainText('by Alice');
    await row.getByTestId('revoke-invite').click();
    await expect(row).toHaveCount(0);

    const carol = await registerApi('carol', 'Carol');
    c = await newUser(browser, carol);
    await c.page.goto(`/invite/${code}`);
    await expect(c.page.getByRole('heading', { name: 'Invite invalid or revoked' })).toBeVisible();
    await expect(api('POST', `/api/invites/${code}/join`, undefined, carol.accessToken)).rejects.toThrow(/404/);
  } finally {
    await closeAll(p.a, p.b, c);
  }
});

test('blocking stops a DM, strangers cannot start one, and the privacy setting opens it up', async ({ browser }) => {
  const p = await setupPair(browser, 'Block Hall');
  let c: UserPage | undefined;
  try {
    const alice = p.a.page;
    const bob = p.b.page;
    // Bob messages Alice from the member list (they share a server: allowed).
    const aliceRow = bob.locator(`[data-testid="member-item"][data-user-id="${p.alice.user.id}"]`);
    await aliceRow.getByRole('button', { name: 'Manage Alice' }).click();
    await bob.getByRole('menuitem', { name: 'Message' }).click();
    await expect(bob).toHaveURL(/\/channels\/@me\/\d+$/);
    await waitForChat(bob);
    await send(bob, 'hello before the block');
    await alice.getByTestId('home-button').click();
    const dmItem = alice.getByTestId('dm-item').filter({ hasText: 'Bob' });
    await dmItem.click();
    await waitForChat(alice);
    await expectMessageOnce(alice, 'hello before the block');

    // Alice blocks Bob from the DM's menu: her composer gives way to a notice, and Bob's next message is refused.
    await alice.getByTestId('dm-options').click();
    await alice.getByTestId('block-user').click();
    await expect(alice.getByTestId('blocked-notice')).toBeVisible();
    await expect(alice.getByTestId('composer-input')).toHaveCount(0);
    await send(bob, 'can you hear me');
    const refused = messageRows(bob, 'can you hear me');
    await expect(refused).toHaveAttribute('data-state', 'failed');
    await expect(refused.locator('.failed-text')).toContainText('could not be delivered');
    await expect(messageRows(alice, 'can you hear me')).toHaveCount(0);

    // A stranger cannot open a DM with Alice (server members only, the default)...
    const carol = await registerApi('carol', 'Carol');
    c = await newUser(browser, carol);
    await c.page.goto('/channels/@me');
    await c.page.getByTestId('new-dm-button').click();
    const modal = c.page.getByTestId('new-dm-modal');
    await modal.getByTestId('user-search-input').fill(p.alice.user.username);
    await modal.locator(`[data-testid="user-search-result"][data-user-id="${p.alice.user.id}"]`).click();
    await expect(modal.getByRole('alert')).toContainText('accepts direct messages only from people who share a server');
    await c.page.keyboard.press('Escape');

    // ...until Alice allows everyone in Privacy & safety.
    await alice.getByTestId('user-settings-button').click();
    await alice.getByTestId('dm-policy-everyone').click();
    await expect(alice.getByTestId('dm-policy-everyone')).toHaveAttribute('aria-checked', 'true');
    await expect(alice.getByTestId('blocked-list')).toContainText('Bob');
    await alice.getByTestId('user-settings-button').click();
    await c.page.getByTestId('new-dm-button').click();
    await modal.getByTestId('user-search-input').fill(p.alice.user.username);
    await modal.locator(`[data-testid="user-search-result"][data-user-id="${p.alice.user.id}"]`).click();
    await expect(c.page).toHaveURL(/\/channels\/@me\/\d+$/);

    // In a shared server Bob can still write, but Alice sees his messages collapsed until she asks.
    await bob.goto(p.generalPath);
    await waitForChat(bob);
    await send(bob, 'a server message while blocked');
    await expectMessageOnce(bob, 'a server message while blocked');
    // It does not mark the server unread for Alice (she is in the DM): not live, and not after a reload either
    // (the server leaves blocked users out of unread counts).
    const rail = alice.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`);
    await alice.waitForTimeout(1000);
    await expect(rail).not.toHaveAccessibleName(/unread/);
    await alice.reload();
    await waitForChat(alice);
    await expect(rail).toHaveAccessibleName(/Block Hall/);
    await expect(rail).not.toHaveAccessibleName(/unread/);
    await alice.goto(p.generalPath);
    await waitForChat(alice);
    await expect(alice.getByTestId('blocked-message')).toHaveCount(1);
    await expect(messageRows(alice, 'a server message while blocked')).toHaveCount(0);
    await alice.getByTestId('blocked-message').getByRole('button', { name: 'Show' }).click();
    await expectMessageOnce(alice, 'a server message while blocked');
    await alice.getByTestId('home-button').click();
    await dmItem.click();
    await waitForChat(alice);
    await bob.goBack();
    await waitForChat(bob);

    // Unblocking from the notice brings the composer back and Bob's messages through.
    await alice.getByTestId('blocked-notice').getByRole('button', { name: 'Unblock' }).click();
    await expect(alice.getByTestId('composer-input')).toBeVisible();
    await send(bob, 'and now?');
    await expectMessageOnce(alice, 'and now?');

    // Closing the DM takes it off Alice's list; Bob's next message brings it back.
    await alice.getByTestId('dm-options').click();
    await alice.getByTestId('close-dm').click();
    await expect(alice).toHaveURL(/\/channels\/@me$/);
    await expect(alice.getByTestId('dm-item').filter({ hasText: 'Bob' })).toHaveCount(0);
    await send(bob, 'still there?');
    await expect(alice.getByTestId('dm-item').filter({ hasText: 'Bob' })).toHaveCount(1);
  } finally {
    await closeAll(p.a, p.b, c);
  }
});

test('leaving a group DM: it asks first, the group is gone for me, and the others see one member fewer', async ({ browser }) => {
  const p = await setupPair(browser, 'Group Hall');
  let c: UserPage | undefined;
  try {
    const carol = await registerApi('carol', 'Carol');
    const invite = await api('POST', `/api/servers/${p.serverId}/invites`, {}, p.alice.accessToken);
    await api('POST', `/api/invites/${invite.code}/join`, undefined, carol.accessToken);
    const group = await api('POST', '/api/dms', { userIds: [p.bob.user.id, carol.user.id] }, p.alice.accessToken);
    c = await newUser(browser, carol);
    await c.page.goto(`/channels/@me/${group.id}`);
    await waitForChat(c.page);
    await p.a.page.getByTestId('home-button').click();
    const alicesItem = p.a.page.locator(`[data-testid="dm-item"][data-channel-id="${group.id}"]`);
    await expect(alicesItem).toContainText('3 members');

    const item = c.page.locator(`[data-testid="dm-item"][data-channel-id="${group.id}"]`);
    await item.hover();
    await c.page.locator('.dm-row').filter({ has: item }).getByTestId('dm-close').click();
    await expect(c.page.getByTestId('leave-group-modal')).toBeVisible();
    await c.page.getByTestId('confirm-leave-group').click();
    await expect(item).toHaveCount(0);
    await expect(c.page).toHaveURL(/\/channels\/@me$/);
    await expect(alicesItem).toContainText('2 members');
    await expect(api('GET', `/api/channels/${group.id}/messages`, undefined, carol.accessToken)).rejects.toThrow(/404/);
  } finally {
    await closeAll(p.a, p.b, c);
  }
});

/** Serious and critical axe violations on the page as it is now. */
async function axe(page: Page, screen: string): Promise<string[]> {
  await page.mouse.move(1, 1);
  await page.waitForTimeout(250); // transitions done: axe reads computed colours
  const r = await new AxeBuilder({ page }).options({ rules: { 'label-content-name-mismatch': { enabled: true } } }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`axe: the moderation and privacy screens have no serious or critical violations (${colorScheme})`, async ({ browser }) => {
    const p = await setupPair(browser, 'Axe Hall');
    try {
      const alice = p.a.page;
      await alice.emulateMedia({ colorScheme });
      const found: string[] = [];
      await api('POST', `/api/servers/${p.serverId}/invites`, { maxUses: 5 }, p.alice.accessToken);
      const carol = await registerApi('carol', 'Carol');
      await api('PUT', `/api/servers/${p.serverId}/bans/${carol.user.id}`, { reason: 'spam' }, p.alice.accessToken);

      await alice.getByTestId('server-menu-button').click();
      await alice.getByTestId('server-settings-button').click();
      found.push(...(await axe(alice, 'settings overview')));
      await alice.getByTestId('settings-tab-invites').click();
      await expect(alice.getByTestId('invite-row')).toHaveCount(2);
      found.push(...(await axe(alice, 'settings invites')));
      await alice.getByTestId('settings-tab-bans').click();
      await expect(alice.getByTestId('ban-row')).toHaveCount(1);
      found.push(...(await axe(alice, 'settings bans')));
      await alice.keyboard.press('Escape');

      const bobRow = alice.locator(`[data-testid="member-item"][data-user-id="${p.bob.user.id}"]`);
      await bobRow.getByRole('button', { name: 'Manage Bob' }).click();
      found.push(...(await axe(alice, 'member menu')));
      await alice.getByTestId('ban-member').click();
      found.push(...(await axe(alice, 'ban dialog')));
      await alice.keyboard.press('Escape');

      const dm = await api('POST', '/api/dms', { userIds: [p.bob.user.id] }, p.alice.accessToken);
      await alice.goto(`/channels/@me/${dm.id}`);
      await waitForChat(alice);
      await alice.getByTestId('dm-options').click();
      found.push(...(await axe(alice, 'DM options')));
      await alice.getByTestId('block-user').click();
      await expect(alice.getByTestId('blocked-notice')).toBeVisible();
      found.push(...(await axe(alice, 'blocked DM')));
      await alice.getByTestId('user-settings-button').click();
      await expect(alice.getByTestId('blocked-list')).toContainText('Bob');
      found.push(...(await axe(alice, 'privacy settings')));
      expect(found).toEqual([]);
    } finally {
      await closeAll(p.a, p.b);
    }
  });
}
