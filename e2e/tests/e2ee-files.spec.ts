// Issue #19, files in encrypted DMs: Alice attaches an image and a text file in an encrypted DM; each is encrypted
// in her browser (AES-GCM) and uploaded as an opaque blob. Bob's browser decrypts them: the image shows inline (its
// box sized before it loads) and in the lightbox, the text file shows its first lines, and its download has the
// exact bytes. The stored objects (the run's file store) and the databases hold neither the files' bytes nor their
// names. An edit keeps the files. A tampered blob shows "could not decrypt this file".
import { expect, test, type Page } from '@playwright/test';
import fs from 'node:fs';
import { readState, plainscan } from '../lib/stack.mjs';
import { api, closeAll, openChannel, png, setupPair } from './helpers';

const IMAGE = 'sapodilla-holiday.png';
const TEXT = 'durian-notes.txt';
const TEXT_BYTES = Buffer.from('durian-77: the secret plan\nsecond line: jackfruit-12\n');

/** The message row that carries a decrypted file named `name`. */
const rowWithFile = (page: Page, name: string) => page.getByTestId('message-item').filter({ has: page.locator(`[data-testid="attachment"][data-name="${name}"]`) });

test('encrypted DM: files are encrypted in the browser, previewed and downloaded after decryption; the store has no plaintext', async ({ browser }) => {
  test.setTimeout(150_000);
  const p = await setupPair(browser);
  try {
    const dm = await api('POST', '/api/dms', { userIds: [p.bob.user.id] }, p.alice.accessToken);
    const path = `/channels/@me/${dm.id}`;
    await Promise.all([openChannel(p.a.page, path), openChannel(p.b.page, path)]);
    await expect(p.b.page.getByTestId('e2ee-enable')).toBeVisible({ timeout: 30_000 });
    await p.a.page.getByTestId('e2ee-enable').click({ timeout: 30_000 });
    for (const u of [p.a, p.b]) await expect(u.page.getByTestId('e2ee-lock')).toBeVisible({ timeout: 30_000 });

    const image = png(123, 77, [17, 201, 93]);
    const uploads: string[] = [];
    p.a.page.on('request', (r) => r.url().includes('/attachments?') && uploads.push(r.url()));
    await p.a.page.getByTestId('composer-file-input').setInputFiles([
      { name: IMAGE, mimeType: 'image/png', buffer: image },
      { name: TEXT, mimeType: 'text/plain', buffer: TEXT_BYTES },
    ]);
    await expect(p.a.page.locator('[data-testid="upload-item"][data-status="done"]')).toHaveCount(2, { timeout: 30_000 });
    await p.a.page.getByTestId('composer-input').fill('two files: mamey-40');
    await p.a.page.getByTestId('composer-input').press('Enter');
    await expect(p.a.page.getByTestId('upload-tray')).toHaveCount(0);
    // What went to the server: opaque blobs under a neutral name.
    expect(uploads).toHaveLength(2);
    for (const u of uploads) expect(u).toMatch(/filename=encrypted\.bin&encrypted=1$/);

    for (const page of [p.a.page, p.b.page]) {
      await expect(page.getByTestId('e2ee-text').filter({ hasText: 'two files: mamey-40' })).toBeVisible({ timeout: 60_000 });
      const img = rowWithFile(page, IMAGE).getByTestId('attachment-image');
      await expect(img).toBeVisible({ timeout: 30_000 });
      await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth === 123 && el.src.startsWith('blob:'))).toBe(true);
      await expect(rowWithFile(page, TEXT).getByTestId('attachment-snippet')).toContainText('durian-77: the secret plan');
    }
    // Sized from the dimensions in the MLS message (the server has none).
    const box = await rowWithFile(p.b.page, IMAGE).getByTestId('attachment-image').boundingBox();
    expect(Math.round(box!.width)).toBe(123);
    expect(Math.round(box!.height)).toBe(77);
    await rowWithFile(p.b.page, IMAGE).getByRole('button', { name: `Open ${IMAGE}` }).click();
    await expect(p.b.page.getByTestId('lightbox').locator('img')).toHaveAttribute('src', /^blob:/);
    await p.b.page.keyboard.press('Escape');

    // Bob downloads the text file: the decrypted bytes, under the real name.
    const [download] = await Promise.all([p.b.page.waitForEvent('download'), rowWithFile(p.b.page, TEXT).getByTestId('attachment-download').click()]);
    expect(download.suggestedFilename()).toBe(TEXT);
    expect(fs.readFileSync((await download.path())!)).toEqual(TEXT_BYTES);

    // An edit seals the files' keys again with the new text: Bob still sees them.
    const own = p.a.page.getByTestId('message-item').filter({ hasText: 'two files: mamey-40' });
    await own.hover();
    await own.getByTestId('edit-message-button').click();
    await expect(p.a.page.getByTestId('edit-input')).toHaveValue('two files: mamey-40');
    await p.a.page.getByTestId('edit-input').fill('two files, edited: mamey-41');
    await p.a.page.getByTestId('edit-input').press('Enter');
    await expect(p.b.page.getByTestId('e2ee-text').filter({ hasText: 'two files, edited: mamey-41' })).toBeVisible({ timeout: 30_000 });
    await expect(rowWithFile(p.b.page, TEXT).getByTestId('attachment-snippet')).toContainText('durian-77: the secret plan', { timeout: 30_000 });
    await expect.poll(() => rowWithFile(p.b.page, IMAGE).getByTestId('attachment-image').evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth === 123)).toBe(true);

    // Neither the bytes nor the names are anywhere the server keeps things: files, rows, documents.
    const r = plainscan(readState(), [IMAGE, TEXT, 'sapodilla', 'durian', 'jackfruit', 'mamey', `hex:${image.toString('hex')}`, `hex:${TEXT_BYTES.subarray(0, 24).toString('hex')}`]);
    expect(r.found).toEqual([]);
    expect(r.storedFiles).toBeGreaterThanOrEqual(2);
    // The scan does look there: the neutral name is in the attachments' rows, the blobs are under att/.
    const control = plainscan(readState(), ['encrypted.bin', 'att/']);
    expect(control.found.some((f: string) => f.startsWith('file att/'))).toBe(true);
    expect(control.found.some((f: string) => f.includes('encrypted.bin') && !f.startsWith('file'))).toBe(true);

    // A blob changed on its way (or in the store) does not authenticate: said so, never shown.
    await p.b.page.route('**/files/*/encrypted.bin', async (route) => {
      const res = await route.fetch();
      const body = Buffer.from(await res.body());
      body[body.length - 1] ^= 1;
      await route.fulfill({ response: res, body });
    });
    await p.b.page.reload();
    await expect(p.b.page.getByTestId('e2ee-file-undecryptable')).toHaveCount(2, { timeout: 60_000 });
    await expect(p.b.page.getByTestId('e2ee-file-undecryptable').first()).toContainText('could not decrypt this file');
    await expect(p.b.page.getByTestId('attachment-image')).toHaveCount(0);
  } finally {
    await closeAll(p.a, p.b);
  }
});
