// Files in messages (issue #17): Alice attaches files by button, by pasting an image and by dropping files on the
// channel; Bob sees the previews live (images really load: the files cookie authorises them), a refused type gets
// a clear error, and a removed member's browser can no longer load the files.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, closeAll, png, screenshot, setupPair } from './helpers';

/** A 2-second 320×180 MP4 made by ffmpeg (its test pattern), or null without ffmpeg (scripts/deps.sh installs it). */
function video(): Buffer | null {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-')), 'clip.mp4');
  try {
    execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=10:duration=2', '-c:v', 'mpeg4', '-pix_fmt', 'yuv420p', out]);
    return fs.readFileSync(out);
  } catch (e) {
    // run.mjs sets CI: without ffmpeg this step fails rather than pass unnoticed (scripts/deps.sh installs it).
    if (process.env.CI) throw new Error(`ffmpeg could not make a test video (scripts/deps.sh ffmpeg installs it): ${e}`);
    return null;
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

/** The message row that carries a file named `name`. */
const rowWithFile = (page: Page, name: string) => page.getByTestId('message-item').filter({ has: page.locator(`[data-testid="attachment"][data-name="${name}"]`) });

/** Waits until the image of `name` has really loaded (decoded pixels), which needs the files cookie. */
async function expectImageLoaded(page: Page, name: string) {
  const img = rowWithFile(page, name).getByTestId('attachment-image');
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0)).toBe(true);
}

async function expectUploadsDone(page: Page, n: number) {
  await expect(page.getByTestId('upload-item')).toHaveCount(n);
  await expect(page.locator('[data-testid="upload-item"][data-status="done"]')).toHaveCount(n);
}

test('attachments: button, paste and drop; Bob sees the previews live (a video with its poster frame); a refused type is explained; a removed member loses the files', async ({ browser }) => {
  const p = await setupPair(browser, 'File Club');
  try {
    const { a, b } = p;
    // 1. The attach button: an image and a code file, with text.
    await a.page.getByTestId('composer-file-input').setInputFiles([
      { name: 'sunset.png', mimeType: 'image/png', buffer: png(320, 200, [240, 120, 40]) },
      { name: 'hello.py', mimeType: 'text/x-python', buffer: Buffer.from('def hello():\n    print("hi")\n\nhello()\n') },
    ]);
    await expectUploadsDone(a.page, 2);
    await a.page.getByTestId('composer-input').fill('two files for you');
    await a.page.getByTestId('composer-input').press('Enter');
    await expect(a.page.getByTestId('upload-tray')).toHaveCount(0);

    for (const page of [a.page, b.page]) {
      await expect(rowWithFile(page, 'sunset.png')).toHaveAttribute('data-state', 'sent');
      await expectImageLoaded(page, 'sunset.png');
      await expect(rowWithFile(page, 'hello.py').getByTestId('attachment-snippet')).toContainText('def hello():');
    }
    // The box was sized before the image loaded: its size is the image's, scaled to fit 400 × 300.
    const box = await rowWithFile(b.page, 'sunset.png').getByTestId('attachment-image').boundingBox();
    expect(Math.round(box!.width)).toBe(320);
    expect(Math.round(box!.height)).toBe(200);

    // The lightbox shows the full image.
    await rowWithFile(b.page, 'sunset.png').getByRole('button', { name: 'Open sunset.png' }).click();
    await expect(b.page.getByTestId('lightbox')).toBeVisible();
    await b.page.keyboard.press('Escape');
    await expect(b.page.getByTestId('lightbox')).toHaveCount(0);

    // 2. Paste an image from the clipboard (a screenshot), sent without text.
    const pasted = png(90, 60, [30, 160, 90]).toString('base64');
    await a.page.getByTestId('composer-input').evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, pasted);
    await expectUploadsDone(a.page, 1);
    await a.page.getByTestId('composer-send').click();
    await expectImageLoaded(b.page, 'pasted.png');

    // 3. Drop files anywhere on the channel.
    await a.page.getByTestId('chat').evaluate((el) => {
      const dt = new DataTransfer();
      dt.items.add(new File(['a,b\n1,2\n'], 'table.csv', { type: 'text/csv' }));
      dt.items.add(new File([new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)])], 'empty.zip', { type: 'application/zip' }));
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await expectUploadsDone(a.page, 2);
    await a.page.getByTestId('composer-input').fill('dropped');
    await a.page.getByTestId('composer-input').press('Enter');
    await expect(rowWithFile(b.page, 'empty.zip').getByRole('link', { name: 'Download empty.zip' })).toHaveAttribute('href', /\/files\/\d+\/empty\.zip\?download=1$/);
    await expect(rowWithFile(b.page, 'table.csv')).toHaveCount(1);

    // 3b. A video: the server makes a poster frame with ffmpeg, and Bob's player shows it before anything plays.
    const clip = video();
    if (clip) {
      await a.page.getByTestId('composer-file-input').setInputFiles([{ name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip }]);
      await expectUploadsDone(a.page, 1);
      await a.page.getByTestId('composer-send').click();
      const player = rowWithFile(b.page, 'clip.mp4').locator('video');
      await expect(player).toHaveAttribute('poster', /^\/files\/\d+\/clip\.mp4\?preview=1$/);
      const poster = await player.evaluate(async (el: HTMLVideoElement) => {
        const r = await fetch(el.poster);
        const img = await createImageBitmap(await r.blob());
        return { status: r.status, type: r.headers.get('content-type'), width: img.width, height: img.height };
      });
      expect(poster).toEqual({ status: 200, type: 'image/jpeg', width: 320, height: 180 });
    } else {
      test.info().annotations.push({ type: 'skipped step', description: 'no ffmpeg: the video poster step did not run' });
    }

    // 4. A type the server refuses: the error is shown on the file, and nothing can be sent with it.
    await a.page.getByTestId('composer-file-input').setInputFiles([
      { name: 'tool', mimeType: 'application/octet-stream', buffer: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01'), Buffer.alloc(300)]) },
    ]);
    await expect(a.page.getByTestId('upload-error')).toContainText('not allowed');
    await expect(a.page.getByTestId('composer-send')).toBeDisabled();
    await a.page.getByTestId('upload-remove').click();
    await screenshot(b.page, 'attachments');

    // 5. Alice sets an avatar in her settings: it is stored like the files, squared, and Bob sees it after a reload.
    await a.page.getByTestId('user-settings-button').click();
    await a.page.getByTestId('avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(300, 200, [60, 90, 200]) });
    const own = a.page.getByTestId('user-panel').locator('img[src^="/avatars/"]').first();
    await expect(own).toBeVisible();
    await expect.poll(() => own.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(256);
    await a.page.keyboard.press('Escape');
    await b.page.reload();
    await expect(b.page.getByTestId('message-list')).toHaveAttribute('data-loaded', 'true');
    const theirs = rowWithFile(b.page, 'sunset.png').locator('.message-gutter img[src^="/avatars/"]');
    await expect.poll(() => theirs.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(256);

    // 5b. Alice gives the server an icon in Server settings: stored the same way, and Bob's server list shows it live.
    await a.page.getByTestId('server-menu-button').click();
    await a.page.getByTestId('server-settings-button').click();
    await a.page.getByTestId('server-icon-input').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: png(200, 200, [200, 120, 40]) });
    await expect(a.page.getByTestId('server-icon-remove')).toBeVisible();
    await a.page.keyboard.press('Escape');
    const railIcon = b.page.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"] img[src^="/avatars/"]`);
    await expect.poll(() => railIcon.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(256);
    await expect(b.page.locator(`[data-testid="server-item"][data-server-id="${p.serverId}"]`)).toHaveAccessibleName(/File Club/);

    // 6. Bob is removed from the server: his browser can no longer load the files.
    const src = await rowWithFile(b.page, 'sunset.png').getByTestId('attachment-image').getAttribute('src');
    await api('DELETE', `/api/servers/${p.serverId}/members/${p.bob.user.id}`, undefined, p.alice.accessToken);
    const status = await b.page.evaluate(async (u) => (await fetch(u!, { cache: 'no-store' })).status, src);
    expect(status).toBe(404);
  } finally {
    await closeAll(p.a, p.b);
  }
});
