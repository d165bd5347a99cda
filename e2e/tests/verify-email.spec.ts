// Registration on a server that verifies addresses (issue #22, finding 13): the form says "check your email" and
// does not reveal whether the address has an account; the mailed link creates the account and logs in, once.
// The suite's server registers openly, so this test starts a second server with PARLEY_REGISTRATION=verify that
// writes its mails as files (PARLEY_MAIL_DIR), and reads the link from there.
import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, createIsolatedData, dropIsolatedData, freePort, startServer, stopServer } from '../lib/stack.mjs';

const PASSWORD = 'correct horse battery';

async function mailsTo(dir: string, addr: string, n: number): Promise<string[]> {
  let got: string[] = [];
  await expect
    .poll(() => {
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
      got = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).filter((m) => m.toLowerCase().includes(`\nto: <${addr}>`));
      return got.length;
    }, { timeout: 15_000 })
    .toBe(n);
  return got;
}

test('registration by mailed link: the same answer for a taken address, the link logs in once', async ({ browser }) => {
  test.setTimeout(120_000);
  const port = await freePort();
  const state = createIsolatedData(port);
  const mailDir = path.join(ARTIFACTS, `mail-${port}`);
  fs.rmSync(mailDir, { recursive: true, force: true });
  state.env = { ...state.env, PARLEY_REGISTRATION: 'verify', PARLEY_MAIL_DIR: mailDir };
  await startServer(state, { persist: false });
  const context = await browser.newContext({ baseURL: state.origin });
  try {
    const page = await context.newPage();
    const register = async (username: string, email: string) => {
      await page.goto('/register');
      await page.getByTestId('register-username').fill(username);
      await page.getByTestId('register-email').fill(email);
      await page.getByTestId('register-password').fill(PASSWORD);
      await page.getByTestId('register-submit').click();
      await expect(page.getByTestId('verify-sent')).toContainText(email);
      return page.getByTestId('verify-sent').innerText();
    };

    const first = await register('ivy', 'ivy@example.com');
    const [mail] = await mailsTo(mailDir, 'ivy@example.com', 1);
    const link = mail.match(/http:\/\/\S+\/verify-email\?token=[\w-]+/)?.[0];
    expect(link?.startsWith(state.origin)).toBe(true);

    // Opening the link creates the account and logs in.
    await page.goto(link!);
    await expect(page).toHaveURL(/\/channels\/@me$/);
    await expect(page.getByTestId('current-user-name')).toHaveText('ivy');

    // The same link again (logged out): it worked once, and says so.
    await context.clearCookies();
    await page.evaluate(() => localStorage.clear());
    await page.goto(link!);
    await expect(page.getByTestId('verify-error')).toContainText('invalid, used or expired');

    // A taken address: the page says exactly what it says for a free one; the owner gets a notice, not a link.
    const again = await register('newcomer', 'ivy@example.com');
    expect(again).toBe(first);
    const mails = await mailsTo(mailDir, 'ivy@example.com', 2);
    expect(mails.some((m) => m.includes('Someone tried') && !m.includes('verify-email'))).toBe(true);
  } finally {
    await context.close();
    await stopServer(state, { persist: false });
    dropIsolatedData(state);
    fs.rmSync(mailDir, { recursive: true, force: true });
  }
});
