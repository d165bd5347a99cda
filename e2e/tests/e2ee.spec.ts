// Issue #19: end-to-end encrypted DMs in the web app. Two users in Chromium turn encryption on in their DM and
// talk both ways through a forced key rotation (the e2e key service rotates every 4 messages); the lock and the
// safety numbers show; a device that joins later sees the clear "sent before this device joined" state; Bob
// removes that device from the verification screen and it can no longer read what follows while the others keep
// talking; and no database of the run holds any of the plaintexts. Browsers sync when the server pushes e2ee:sync
// (their fallback poll is 60 s), so every step below that waits on another browser also checks the push.
import { expect, test } from '@playwright/test';
import { readState, plainscan } from '../lib/stack.mjs';
import { api, closeAll, expectMessageOnce, newUser, openChannel, send, setupPair, type UserPage } from './helpers';

test('encrypted DM: opt in, talk both ways through a rotation, safety numbers, a late device and its removal, no plaintext stored', async ({ browser }) => {
  test.setTimeout(180_000);
  const p = await setupPair(browser);
  let late: UserPage | undefined;
  try {
    const dm = await api('POST', '/api/dms', { userIds: [p.bob.user.id] }, p.alice.accessToken);
    const path = `/channels/@me/${dm.id}`;
    await Promise.all([openChannel(p.a.page, path), openChannel(p.b.page, path)]);
    // Each browser registers as a device when it opens the DM; then the opt-in is offered to both.
    await expect(p.a.page.getByTestId('e2ee-enable')).toBeVisible({ timeout: 30_000 });
    await expect(p.b.page.getByTestId('e2ee-enable')).toBeVisible({ timeout: 30_000 });
    await expect(p.a.page.getByTestId('e2ee-lock')).toHaveCount(0);

    await p.a.page.getByTestId('e2ee-enable').click();
    await expect(p.a.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });
    // Bob's browser finds the group and joins from its Welcome on its next sync.
    await expect(p.b.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });

    const said: string[] = [];
    const say = async (who: UserPage, to: UserPage, text: string) => {
      said.push(text);
      await send(who.page, text);
      await expectMessageOnce(who.page, text, 30_000);
      await expectMessageOnce(to.page, text, 30_000);
    };
    await say(p.a, p.b, 'Bob, the vault code is papaya-31');
    await say(p.b, p.a, 'Noted: papaya-31, and mine is guava-58');
    // Typing still works in an encrypted conversation (metadata the server relays as before).
    await p.b.page.getByTestId('composer-input').pressSequentially('typing in the dark');
    await expect(p.a.page.getByTestId('typing-indicator')).toHaveText('Bob is typing…', { timeout: 15_000 });
    await p.b.page.getByTestId('composer-input').fill('');
    // More messages than the policy allows per epoch: a rotation is forced and both sides keep reading.
    for (let i = 0; i < 5; i++) {
      const [from, to] = i % 2 === 0 ? [p.a, p.b] : [p.b, p.a];
      await say(from, to, `rotation round ${i}: kumquat-${i}-secret`);
    }
    await expect(p.a.page.getByTestId('e2ee-keys-rotated').first()).toBeVisible({ timeout: 30_000 });
    await expect(p.b.page.getByTestId('e2ee-keys-rotated').first()).toBeVisible({ timeout: 30_000 });
    await say(p.a, p.b, 'after the rotation: persimmon-77');

    // The verification screen: both see the same 60-digit safety number, and two devices.
    const safety = async (u: UserPage) => {
      await u.page.getByTestId('e2ee-lock').click();
      const dialog = u.page.getByTestId('e2ee-verify');
      await expect(dialog.getByTestId('e2ee-roster-device')).toHaveCount(2, { timeout: 15_000 });
      const n = (await dialog.getByTestId('e2ee-safety-number').textContent())!.trim();
      await dialog.getByRole('button', { name: 'Close' }).click();
      return n;
    };
    const [na, nb] = [await safety(p.a), await safety(p.b)];
    expect(na).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(nb).toBe(na);

    // Bob on a second browser: a new device. Alice's browser adds it; what was said before cannot be read there,
    // what is said after can.
    late = await newUser(browser, p.bob);
    await openChannel(late.page, path);
    await expect(late.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });
    await expect(p.a.page.getByTestId('e2ee-lock')).toBeVisible();
    const dialog = p.a.page.getByTestId('e2ee-verify');
    await p.a.page.getByTestId('e2ee-lock').click();
    // The open screen follows the group: Bob's new device appears once a Commit added it.
    await expect(dialog.getByTestId('e2ee-roster-device')).toHaveCount(3, { timeout: 45_000 });
    await p.a.page.getByTestId('e2ee-verify').getByRole('button', { name: 'Close' }).click();
    await say(p.a, p.b, 'for every device of Bob: starfruit-12');
    await expectMessageOnce(late.page, 'for every device of Bob: starfruit-12', 30_000);
    await expect(late.page.getByTestId('e2ee-before-join').first()).toBeVisible({ timeout: 15_000 });
    expect(await late.page.getByText('papaya-31').count()).toBe(0);

    // Bob removes that second browser from the verification screen of his first one. The removal is pushed: the
    // removed browser says so, and a Commit takes it out of the group, well within the 60 s fallback poll.
    p.b.page.removeAllListeners('dialog');
    p.b.page.on('dialog', (d) => void d.accept()); // "Remove Chrome on Linux?"
    await p.b.page.getByTestId('e2ee-lock').click();
    const bobs = p.b.page.getByTestId('e2ee-verify');
    await expect(bobs.getByTestId('e2ee-my-device')).toHaveCount(2, { timeout: 15_000 });
    await bobs.getByTestId('e2ee-remove-device').click();
    await expect(bobs.getByTestId('e2ee-my-device')).toHaveCount(1, { timeout: 15_000 });
    await expect(late.page.getByTestId('e2ee-removed')).toBeVisible({ timeout: 20_000 });
    // It forgot what it had read: the message it decrypted before now says it was removed.
    await expect(late.page.getByText('starfruit-12')).toHaveCount(0, { timeout: 15_000 });
    await expect(late.page.getByTestId('e2ee-removed-message').first()).toBeVisible({ timeout: 15_000 });
    await expect(bobs.getByTestId('e2ee-roster-device')).toHaveCount(2, { timeout: 20_000 });
    await bobs.getByRole('button', { name: 'Close' }).click();
    // The removed browser still gets the new messages (same account, same DM) but cannot read them.
    await say(p.a, p.b, 'after the removal: tamarind-40');
    await say(p.b, p.a, 'still reading you: quince-93');
    await expect(late.page.getByTestId('e2ee-removed-message').first()).toBeVisible({ timeout: 30_000 });
    expect(await late.page.getByText('tamarind-40').count()).toBe(0);
    expect(await late.page.getByText('quince-93').count()).toBe(0);
    // Also after a reload: its vault (IndexedDB) was wiped, so nothing it read before comes back.
    await late.page.reload();
    await expect(late.page.getByTestId('e2ee-removed')).toBeVisible({ timeout: 30_000 });
    await expect(late.page.getByTestId('e2ee-decrypting')).toHaveCount(0, { timeout: 30_000 });
    await expect.poll(() => late!.page.getByTestId('e2ee-removed-message').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    for (const gone of ['starfruit-12', 'tamarind-40', 'quince-93']) expect(await late.page.getByText(gone).count()).toBe(0);
    expect(await late.page.getByTestId('e2ee-text').count()).toBe(0);

    // Nothing of it in any database of the run.
    const needles = ['papaya', 'guava', 'kumquat', 'persimmon', 'starfruit', 'tamarind', 'quince', 'vault code'];
    const r = plainscan(readState(), needles);
    expect(r.found).toEqual([]);
    expect(r.encryptedRows).toBeGreaterThanOrEqual(said.length);
    expect(r.postgresValues).toBeGreaterThan(10);
    expect(r.mongoDocuments).toBeGreaterThan(0);
  } finally {
    await closeAll(p.a, p.b, late);
  }
});
