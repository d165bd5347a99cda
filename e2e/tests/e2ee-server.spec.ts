// Issue #19, the server-enforced slice: the DM's `encrypted` flag is the server's, so a browser whose view of the DM
// is stale (here: its /api/dms answer stripped of the flag, and its attempt to set the flag itself blocked) still
// stores only ciphertext: the server refuses its plaintext with encryption_required and the outbox seals and resends
// the same nonce. Replies and edits in an encrypted DM; quotes show the decrypted text or "Encrypted message",
// never base64. A group DM of three turns encryption on from its header.
import { expect, test, type Page } from '@playwright/test';
import { readState, plainscan } from '../lib/stack.mjs';
import { api, closeAll, expectMessageOnce, joinServer, messageRows, newUser, openChannel, registerApi, send, setupPair, type UserPage } from './helpers';

/** No run of base64 as long as a ciphertext anywhere on the page (message bodies, quotes, system lines). */
async function expectNoCiphertext(page: Page) {
  const text = await page.getByTestId('message-list').innerText();
  expect(text).not.toMatch(/[A-Za-z0-9+/]{60,}={0,2}/);
}

test('encrypted DM: the flag is the server\'s; a stale browser is refused plaintext and seals; replies and edits', async ({ browser }) => {
  test.setTimeout(150_000);
  const p = await setupPair(browser);
  let fresh: UserPage | undefined;
  try {
    const dm = await api('POST', '/api/dms', { userIds: [p.bob.user.id] }, p.alice.accessToken);
    const path = `/channels/@me/${dm.id}`;
    await Promise.all([openChannel(p.a.page, path), openChannel(p.b.page, path)]);
    // Bob's browser must have registered its device first (else the app rightly says Bob has no device yet).
    await expect(p.b.page.getByTestId('e2ee-enable')).toBeVisible({ timeout: 30_000 });
    await p.a.page.getByTestId('e2ee-enable').click({ timeout: 30_000 });
    await expect(p.a.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });
    await expect(p.b.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });
    // The system line, live on both sides; and the flag in the server's DM list.
    for (const u of [p.a, p.b]) await expect(u.page.getByTestId('encryption-system-line')).toContainText('Alice turned on end-to-end encryption');
    // Files are encrypted in the browser here (e2ee-files.spec.ts): the attach button is back.
    await expect(p.a.page.getByTestId('composer-attach')).toBeVisible();
    const { channels } = await api('GET', '/api/dms', undefined, p.bob.accessToken);
    expect(channels.find((c: { id: string }) => c.id === dm.id)?.encrypted).toBe(true);

    await send(p.b.page, 'before the fresh browser: papaya-31');
    await expectMessageOnce(p.a.page, 'before the fresh browser: papaya-31', 30_000);

    // Alice's second browser, with a stale view: no flag in its DM list, and it cannot set the flag itself.
    fresh = await newUser(browser, p.alice);
    await fresh.page.route('**/api/dms', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      for (const c of body.channels ?? []) delete c.encrypted;
      await route.fulfill({ response: res, json: body });
    });
    await fresh.page.route('**/api/dms/*/encryption', (route) => route.abort());
    const refusals: string[] = [];
    fresh.page.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && f.payload.includes('encryption_required') && refusals.push(f.payload)));
    await openChannel(fresh.page, path);
    await send(fresh.page, 'from a fresh browser: tamarind-9');
    // Refused in the clear, sealed once this device was added (Bob's or Alice's open DM adds it), stored once.
    await expectMessageOnce(p.b.page, 'from a fresh browser: tamarind-9', 60_000);
    await expectMessageOnce(fresh.page, 'from a fresh browser: tamarind-9', 30_000);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    // Before this device joined: it cannot read that, and says so (no base64).
    await expect(fresh.page.getByTestId('e2ee-before-join').first()).toBeVisible({ timeout: 15_000 });

    // A reply: the quote is drawn from the text each browser decrypted (the server has only ciphertext).
    const original = await expectMessageOnce(p.a.page, 'before the fresh browser: papaya-31');
    await p.a.page.locator(`[data-testid="message-item"][data-message-id="${original}"]`).hover();
    await p.a.page.locator(`[data-testid="message-item"][data-message-id="${original}"]`).getByTestId('reply-button').click();
    await send(p.a.page, 'answering papaya: guava-58');
    for (const u of [p.a, p.b]) {
      await expectMessageOnce(u.page, 'answering papaya: guava-58', 30_000);
      await expect(messageRows(u.page, 'answering papaya: guava-58').getByTestId('reply-quote-text')).toHaveText('before the fresh browser: papaya-31', { timeout: 15_000 });
    }
    // The fresh browser reads the reply but not the original (sent before it joined): "Encrypted message".
    await expectMessageOnce(fresh.page, 'answering papaya: guava-58', 30_000);
    await expect(messageRows(fresh.page, 'answering papaya: guava-58').getByTestId('reply-quote-text')).toHaveText('🔒 Encrypted message');

    // An edit: the box holds the decrypted text; the new text is sealed and read on the other side.
    const replyRow = messageRows(p.a.page, 'answering papaya: guava-58');
    await replyRow.hover();
    await replyRow.getByTestId('edit-message-button').click();
    const box = p.a.page.getByTestId('edit-input');
    await expect(box).toHaveValue('answering papaya: guava-58');
    await box.fill('answering papaya, edited: rambutan-2');
    await box.press('Enter');
    for (const u of [p.a, p.b]) {
      await expectMessageOnce(u.page, 'answering papaya, edited: rambutan-2', 30_000);
      await expect(messageRows(u.page, 'answering papaya, edited: rambutan-2').getByTestId('message-edited')).toBeVisible();
    }
    for (const u of [p.a, p.b, fresh]) await expectNoCiphertext(u.page);

    const r = plainscan(readState(), ['papaya', 'tamarind', 'guava', 'rambutan', 'fresh browser']);
    expect(r.found).toEqual([]);
    expect(r.encryptedRows).toBeGreaterThanOrEqual(3);
  } finally {
    await closeAll(p.a, p.b, fresh);
  }
});

test('a group DM of three turns encryption on from its header and talks', async ({ browser }) => {
  test.setTimeout(120_000);
  const p = await setupPair(browser);
  let carol: UserPage | undefined;
  try {
    const c = await registerApi('carol', 'Carol');
    await joinServer(p.serverId, p.alice, c);
    const dm = await api('POST', '/api/dms', { userIds: [p.bob.user.id, c.user.id] }, p.alice.accessToken);
    expect(dm.group).toBe(true);
    const path = `/channels/@me/${dm.id}`;
    carol = await newUser(browser, c);
    await Promise.all([openChannel(p.a.page, path), openChannel(p.b.page, path), openChannel(carol.page, path)]);
    // Every browser must have registered its device before the group can be made with all of them.
    for (const u of [p.b, carol]) await expect(u.page.getByTestId('e2ee-enable')).toBeVisible({ timeout: 30_000 });
    await p.a.page.getByTestId('e2ee-enable').click({ timeout: 30_000 });
    for (const u of [p.a, p.b, carol]) {
      await expect(u.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });
      await expect(u.page.getByTestId('encryption-system-line')).toBeVisible();
    }
    await send(carol.page, 'to both of you: lychee-4');
    for (const u of [p.a, p.b, carol]) await expectMessageOnce(u.page, 'to both of you: lychee-4', 30_000);
    await send(p.b.page, 'and back: mangosteen-6');
    for (const u of [p.a, p.b, carol]) await expectMessageOnce(u.page, 'and back: mangosteen-6', 30_000);
    const r = plainscan(readState(), ['lychee', 'mangosteen']);
    expect(r.found).toEqual([]);
  } finally {
    await closeAll(p.a, p.b, carol);
  }
});
