// Mentions and notifications (issue #15), with two users in separate browser contexts against the real server:
// Alice mentions Bob through the composer's autocomplete in a channel Bob does not have open; Bob's channel badge,
// server icon and tab title show it, he gets a desktop notification while his tab is hidden, and reading clears it
// all. Then mutes, and a DM notification.
//
// The Notification API is replaced by a recorder (permission "granted") and the page's visibility is controlled by
// the test: headless Chromium has neither real notifications nor hidden tabs.
import { expect, test, type Page } from '@playwright/test';
import { api, closeAll, expectMessageOnce, newUser, openChannel, registerApi, screenshot, type AuthResult, type UserPage } from './helpers';

interface Recorded {
  title: string;
  body?: string;
  tag?: string;
}

/** Before any page script: a Notification recorder, and a visibility the test can switch. */
async function instrument(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { __notifications: Recorded[]; __hidden: boolean };
    w.__notifications = [];
    w.__hidden = false;
    class RecordingNotification {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      onclick: (() => void) | null = null;
      constructor(title: string, options?: { body?: string; tag?: string }) {
        w.__notifications.push({ title, body: options?.body, tag: options?.tag });
      }
      close() {}
    }
    Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true, writable: true });
    Object.defineProperty(document, 'visibilityState', { get: () => (w.__hidden ? 'hidden' : 'visible'), configurable: true });
    Object.defineProperty(document, 'hidden', { get: () => w.__hidden, configurable: true });
  });
}

async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((h) => {
    (window as unknown as { __hidden: boolean }).__hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
    if (!h) window.dispatchEvent(new Event('focus'));
  }, hidden);
}

const notifications = (page: Page) => page.evaluate(() => (window as unknown as { __notifications: Recorded[] }).__notifications);

interface World {
  alice: AuthResult;
  bob: AuthResult;
  a: UserPage;
  b: UserPage;
  server: { id: string; name: string };
  generalId: string;
  randomId: string;
}

/** Alice owns a server with #general and #random that Bob joined; both browsers are instrumented, on #general. */
async function setup(browser: import('@playwright/test').Browser): Promise<World> {
  const [alice, bob] = await Promise.all([registerApi('alice', 'Alice'), registerApi('bob', 'Bob')]);
  const server = await api('POST', '/api/servers', { name: 'Mention Club' }, alice.accessToken);
  const invite = await api('POST', `/api/servers/${server.id}/invites`, {}, alice.accessToken);
  await api('POST', `/api/invites/${invite.code}/join`, undefined, bob.accessToken);
  const random = await api('POST', `/api/servers/${server.id}/channels`, { name: 'random' }, alice.accessToken);
  const { channels } = await api('GET', `/api/servers/${server.id}/channels`, undefined, alice.accessToken);
  const general = channels.find((c: { name: string }) => c.name === 'general');
  const [a, b] = await Promise.all([newUser(browser, alice), newUser(browser, bob)]);
  await Promise.all([instrument(a.page), instrument(b.page)]);
  await Promise.all([openChannel(a.page, `/channels/${server.id}/${general.id}`), openChannel(b.page, `/channels/${server.id}/${general.id}`)]);
  return { alice, bob, a, b, server, generalId: general.id, randomId: random.id };
}

const channelItem = (page: Page, id: string) => page.locator(`[data-testid="channel-item"][data-channel-id="${id}"]`);
const serverIcon = (page: Page, id: string) => page.locator(`li:has([data-testid="server-item"][data-server-id="${id}"])`);

/** Types `@` + the first letters of a username, picks the member from the list with Enter. */
async function mentionByAutocomplete(page: Page, before: string, user: AuthResult, shot?: string) {
  const input = page.getByTestId('composer-input');
  await input.click();
  await input.pressSequentially(`${before}@${user.user.username.slice(0, 3)}`);
  const option = page.getByRole('option').filter({ hasText: `@${user.user.username}` });
  await expect(option).toHaveCount(1);
  await expect(page.getByRole('combobox')).toHaveAttribute('aria-expanded', 'true');
  // The first option is the active one (aria-activedescendant); it is Bob, the only username that starts so.
  await expect(input).toHaveAttribute('aria-activedescendant', (await option.getAttribute('id'))!);
  if (shot) await screenshot(page, shot);
  await input.press('Enter');
  await expect(input).toHaveValue(`${before}@${user.user.username} `);
}

test('a mention through autocomplete: badge, server icon, title and notification for Bob; reading clears them; highlighted', async ({ browser }) => {
  const w = await setup(browser);
  try {
    const { a, b } = w;
    await openChannel(a.page, `/channels/${w.server.id}/${w.randomId}`);
    await expect(b.page).toHaveTitle('Parley');

    await setHidden(b.page, true);
    await mentionByAutocomplete(a.page, 'hey ', w.bob, 'mention-autocomplete');
    const input = a.page.getByTestId('composer-input');
    // #channel completes the same way: Enter picks, the next Enter sends.
    await input.pressSequentially('look at #gen');
    await expect(a.page.getByRole('listbox', { name: 'Channels' }).getByRole('option')).toHaveText(['#general']);
    await input.press('Enter');
    await expect(input).toHaveValue(`hey @${w.bob.user.username} look at #general `);
    await input.press('Enter');
    await expect(input).toHaveValue('');
    // Stored with ids, shown with names: a chip for Bob, a link for #general.
    await expectMessageOnce(a.page, 'hey @Bob look at #general');
    const sent = a.page.getByTestId('message-item').last();
    await expect(sent.getByTestId('mention').first()).toHaveAttribute('data-kind', 'user');
    await expect(sent.getByRole('link', { name: '#general' })).toHaveAttribute('href', `/channels/${w.server.id}/${w.generalId}`);

    // Bob, on #general with his tab hidden: the channel's mention badge, the server icon, the title, a notification.
    const random = channelItem(b.page, w.randomId);
    await expect(random.getByTestId('mention-badge')).toHaveAttribute('data-count', '1');
    await expect(serverIcon(b.page, w.server.id).getByTestId('server-mention-badge')).toHaveText('1');
    await expect(b.page).toHaveTitle('(1) Parley');
    await expect.poll(() => notifications(b.page)).toEqual([
      { title: `Alice (#random, ${w.server.name})`, body: 'hey @Bob look at #general', tag: `parley:${w.randomId}` },
    ]);

    // Bob comes back and opens #random: badge and title clear; the message is highlighted for him (not for Alice).
    await setHidden(b.page, false);
    await random.click();
    await expectMessageOnce(b.page, 'hey @Bob look at #general');
    const row = b.page.getByTestId('message-item').filter({ hasText: 'look at #general' });
    await expect(row).toHaveAttribute('data-mentioned', 'true');
    await expect(row).toHaveClass(/\bmentioned\b/);
    await screenshot(b.page, 'mention-highlight');
    await expect(sent).not.toHaveAttribute('data-mentioned', 'true');
    await expect(random.getByTestId('mention-badge')).toHaveCount(0);
    await expect(serverIcon(b.page, w.server.id).getByTestId('server-mention-badge')).toHaveCount(0);
    await expect(b.page).toHaveTitle('Parley');

    // The channel link navigates.
    await row.getByRole('link', { name: '#general' }).click();
    await expect(b.page).toHaveURL(new RegExp(`/channels/${w.server.id}/${w.generalId}$`));
    // The read position reached the server: after a reload on #general the server's counts show no mention either.
    await b.page.waitForTimeout(1000);
    await b.page.reload();
    await expect(b.page.getByTestId('message-list')).toHaveAttribute('data-loaded', 'true');
    await expect(random).toHaveAttribute('data-unread', 'false');
    await expect(random.getByTestId('mention-badge')).toHaveCount(0);
    await expect(b.page).toHaveTitle('Parley');
  } finally {
    await closeAll(w.a, w.b);
  }
});

test('muting a channel stops its unread badge and notifications, but not mentions', async ({ browser }) => {
  const w = await setup(browser);
  try {
    const { a, b } = w;
    const random = channelItem(b.page, w.randomId);
    // Bob wants every message: desktop "all", from the user menu.
    await b.page.getByTestId('user-settings-button').click();
    await b.page.getByTestId('notify-desktop-all').click();
    await expect(b.page.getByTestId('notify-desktop-all')).toHaveAttribute('aria-checked', 'true');
    await expect.poll(async () => (await api('GET', '/api/me/settings', undefined, w.bob.accessToken)).desktop).toBe('all');
    await b.page.keyboard.press('Escape');

    await openChannel(a.page, `/channels/${w.server.id}/${w.randomId}`);
    await setHidden(b.page, true);
    await a.page.getByTestId('composer-input').fill('first, unmuted');
    await a.page.getByTestId('composer-input').press('Enter');
    await expect(random.getByTestId('unread-badge')).toHaveAttribute('data-count', '1');
    await expect.poll(async () => (await notifications(b.page)).map((n) => n.body)).toEqual(['first, unmuted']);

    // Bob opens #random and mutes it with the bell, then goes back to #general.
    await setHidden(b.page, false);
    await random.click();
    await expectMessageOnce(b.page, 'first, unmuted');
    const bell = b.page.getByTestId('mute-channel-button');
    await bell.click();
    await expect(bell).toHaveAttribute('aria-pressed', 'true');
    await expect.poll(async () => (await api('GET', '/api/me/settings', undefined, w.bob.accessToken)).mutedChannels).toEqual([w.randomId]);
    await channelItem(b.page, w.generalId).click();
    await expect(random).toHaveAttribute('data-muted', 'true');
    await setHidden(b.page, true);

    await a.page.getByTestId('composer-input').fill('second, muted');
    await a.page.getByTestId('composer-input').press('Enter');
    await expectMessageOnce(a.page, 'second, muted');
    // A message in #general after it: once Bob has it, he has had "second, muted" too (one socket, in order).
    await openChannel(a.page, `/channels/${w.server.id}/${w.generalId}`);
    await a.page.getByTestId('composer-input').fill('meanwhile in general');
    await a.page.getByTestId('composer-input').press('Enter');
    await expectMessageOnce(b.page, 'meanwhile in general');
    await expect(random).toHaveAttribute('data-unread', 'false');
    await expect(random.getByTestId('unread-badge')).toHaveCount(0);
    await expect.poll(async () => (await notifications(b.page)).map((n) => n.body)).toEqual(['first, unmuted', 'meanwhile in general']);

    // A mention in the muted channel still badges and notifies.
    await openChannel(a.page, `/channels/${w.server.id}/${w.randomId}`);
    await mentionByAutocomplete(a.page, 'but ', w.bob);
    await a.page.getByTestId('composer-input').press('Enter');
    await expect(random.getByTestId('mention-badge')).toHaveAttribute('data-count', '1');
    await expect(random).toHaveAttribute('data-unread', 'true');
    await expect(b.page).toHaveTitle('(1) Parley');
    await expect
      .poll(async () => (await notifications(b.page)).map((n) => n.body))
      .toEqual(['first, unmuted', 'meanwhile in general', 'but @Bob']);
  } finally {
    await closeAll(w.a, w.b);
  }
});

test('a DM while the tab is hidden: a notification, and the DM moves to the top of the list', async ({ browser }) => {
  const w = await setup(browser);
  let carol: AuthResult | undefined;
  try {
    const { a, b } = w;
    const dm = await api('POST', '/api/dms', { userIds: [w.bob.user.id] }, w.alice.accessToken);
    carol = await registerApi('carol', 'Carol');
    await api('PUT', '/api/me/privacy', { allowDMsFrom: 'everyone' }, carol.accessToken); // Bob shares no server with her
    const dmCarol = await api('POST', '/api/dms', { userIds: [carol.user.id] }, w.bob.accessToken); // newer: on top
    await b.page.goto('/channels/@me');
    await expect(b.page.getByTestId('connection-banner').first()).toHaveAttribute('data-state', 'connected');
    const items = b.page.getByTestId('dm-item');
    await expect(items).toHaveCount(2);
    await expect(items.first()).toHaveAttribute('data-channel-id', dmCarol.id);

    await setHidden(b.page, true);
    await openChannel(a.page, `/channels/@me/${dm.id}`);
    await a.page.getByTestId('composer-input').fill('psst, Bob');
    await a.page.getByTestId('composer-input').press('Enter');
    await expectMessageOnce(a.page, 'psst, Bob');

    await expect.poll(() => notifications(b.page)).toEqual([{ title: 'Alice', body: 'psst, Bob', tag: `parley:${dm.id}` }]);
    await expect(items.first()).toHaveAttribute('data-channel-id', dm.id);
    await expect(items.first().getByTestId('unread-badge')).toHaveAttribute('data-count', '1');
    await expect(b.page.getByTestId('dm-unread-total')).toHaveText('1');
  } finally {
    await closeAll(w.a, w.b);
  }
});
