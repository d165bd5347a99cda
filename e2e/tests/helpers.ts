// Shared helpers: REST set-up shortcuts (so each scenario is independent and only the first one registers
// through the UI), browser contexts that are already logged in, and message assertions.
import zlib from 'node:zlib';
import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import { ARTIFACTS, readState } from '../lib/stack.mjs';

export const PASSWORD = 'correct horse battery';

export interface AuthResult {
  user: { id: string; username: string; displayName: string; email: string };
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
}

export const origin = (): string => readState().origin;

export async function api<T = any>(method: string, urlPath: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(origin() + urlPath, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} -> ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A username unique within this run (the database is fresh per run). */
export const uniqueName = (prefix: string) => `${prefix}.${Math.random().toString(36).slice(2, 7)}`;

/** Registers a user over REST and gives it a display name (what the UI shows). */
export async function registerApi(prefix: string, displayName: string): Promise<AuthResult> {
  const username = uniqueName(prefix);
  const auth = await api<AuthResult>('POST', '/api/auth/register', { username, email: `${username}@example.com`, password: PASSWORD });
  auth.user = await api('PATCH', '/api/users/me', { displayName }, auth.accessToken);
  return auth;
}

export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** Every JavaScript dialog (alert/confirm/prompt) the page opened. */
  dialogs: string[];
}

/** A new browser context (its own storage, like a separate browser), logged in as `auth` if given. */
export async function newUser(browser: Browser, auth?: AuthResult, options: BrowserContextOptions = {}): Promise<UserPage> {
  const o = origin();
  const storageState = auth
    ? {
        cookies: [],
        origins: [{ origin: o, localStorage: [{ name: 'parley.session', value: JSON.stringify({ ...auth, receivedAt: Date.now() }) }] }],
      }
    : undefined;
  const context = await browser.newContext({ baseURL: o, storageState, ...options });
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  return { context, page, dialogs };
}

export interface Pair {
  alice: AuthResult;
  bob: AuthResult;
  a: UserPage;
  b: UserPage;
  serverId: string;
  generalId: string;
  generalPath: string;
}

/** Alice owns a server that Bob joined by invite (REST); both are logged in, in separate contexts, on #general. */
export async function setupPair(browser: Browser, serverName = 'Parley HQ'): Promise<Pair> {
  const [alice, bob] = await Promise.all([registerApi('alice', 'Alice'), registerApi('bob', 'Bob')]);
  const server = await api('POST', '/api/servers', { name: serverName }, alice.accessToken);
  const invite = await api('POST', `/api/servers/${server.id}/invites`, {}, alice.accessToken);
  await api('POST', `/api/invites/${invite.code}/join`, undefined, bob.accessToken);
  const { channels } = await api('GET', `/api/servers/${server.id}/channels`, undefined, alice.accessToken);
  const general = channels.find((c: { name: string }) => c.name === 'general');
  expect(general, 'a new server comes with #general').toBeTruthy();
  const generalPath = `/channels/${server.id}/${general.id}`;
  const [a, b] = await Promise.all([newUser(browser, alice), newUser(browser, bob)]);
  await Promise.all([openChannel(a.page, generalPath), openChannel(b.page, generalPath)]);
  return { alice, bob, a, b, serverId: server.id, generalId: general.id, generalPath };
}

export async function closeAll(...users: (UserPage | undefined)[]) {
  await Promise.all(users.map((u) => u?.context.close().catch(() => undefined)));
}

/** Opens a channel URL and waits until its history is loaded and the socket is connected. */
export async function openChannel(page: Page, urlPath: string) {
  await page.goto(urlPath);
  await waitForChat(page);
}

export async function waitForChat(page: Page) {
  await expect(page.getByTestId('message-list')).toHaveAttribute('data-loaded', 'true');
  await expect(page.getByTestId('connection-banner').first()).toHaveAttribute('data-state', 'connected');
}

/** Types a message into the composer and presses Enter. */
export async function send(page: Page, text: string) {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await expect(input).toHaveValue('');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The message rows whose whole text content is exactly `text`. */
export function messageRows(page: Page, text: string): Locator {
  return page.getByTestId('message-item').filter({
    has: page.getByTestId('message-content').filter({ hasText: new RegExp(`^${escapeRe(text)}$`) }),
  });
}

/** Waits until `text` is shown exactly once, stored (state=sent, with an id); returns its message id. */
export async function expectMessageOnce(page: Page, text: string, timeout?: number): Promise<string> {
  const rows = messageRows(page, text);
  await expect(rows).toHaveCount(1, { timeout });
  await expect(rows).toHaveAttribute('data-state', 'sent', { timeout });
  const id = await rows.getAttribute('data-message-id');
  expect(id, `message "${text}" has an id`).toMatch(/^\d+$/);
  return id!;
}

/** Every rendered message id; asserts none is rendered twice. */
export async function expectNoDuplicateIds(page: Page): Promise<string[]> {
  const ids = await page.getByTestId('message-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-message-id') ?? ''));
  const stored = ids.filter(Boolean);
  const dupes = stored.filter((id, i) => stored.indexOf(id) !== i);
  expect(dupes, 'message ids rendered more than once').toEqual([]);
  return stored;
}

/** A page-lifetime marker: set it, and if it is still there later the page was not reloaded. */
export async function markPage(page: Page) {
  await page.evaluate(() => ((window as unknown as { __e2eMarker: boolean }).__e2eMarker = true));
}
export async function expectNotReloaded(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { __e2eMarker?: boolean }).__e2eMarker === true), 'page was not reloaded').toBe(true);
}

export async function screenshot(page: Page, name: string) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.mouse.move(1, 1); // no hover effects in the picture
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), animations: 'disabled' });
}

export interface SeedSend {
  token: string;
  content: string;
  replyTo?: string;
}

/**
 * Sends messages over raw Socket.IO WebSockets opened by `page` (it is on the app's origin, which the server allows),
 * one socket per token, each sending its own messages in order (concurrently across tokens) and waiting out
 * `rate_limited` refusals (10/s, burst 20 per user: several users make 500 messages quick). Resolves the stored ids
 * in the order of `sends` per token.
 */
export async function seedOverSocket(page: Page, channelId: string, sends: SeedSend[]): Promise<string[]> {
  return page.evaluate(
    async ({ channelId, sends }) => {
      const byToken = new Map<string, number[]>();
      sends.forEach((s, i) => byToken.set(s.token, [...(byToken.get(s.token) ?? []), i]));
      const ids: string[] = new Array(sends.length).fill('');
      const url = `${location.origin.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
      const run = (token: string, idx: number[]) =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(url);
          let ackId = 0;
          const waiting = new Map<number, (a: any) => void>();
          const emit = (payload: unknown) =>
            new Promise<any>((res) => {
              const id = ackId++;
              waiting.set(id, res);
              ws.send(`42${id}${JSON.stringify(['message:send', payload])}`);
            });
          const timer = setTimeout(() => reject(new Error('seeding timed out')), 120_000);
          ws.onerror = () => reject(new Error('seed socket error'));
          ws.onmessage = async (ev) => {
            const d = String(ev.data);
            if (d === '2') return ws.send('3');
            if (d.startsWith('0')) return ws.send(`40${JSON.stringify({ token })}`);
            if (d.startsWith('44')) return reject(new Error(`seed connect refused: ${d}`));
            const ack = /^43(\d+)(.*)$/s.exec(d);
            if (ack) {
              waiting.get(Number(ack[1]))?.(JSON.parse(ack[2])[0]);
              waiting.delete(Number(ack[1]));
              return;
            }
            if (!d.startsWith('40')) return;
            try {
              for (const i of idx) {
                const s = sends[i];
                const nonce = `seed-${i}-${Math.random().toString(36).slice(2)}`;
                for (;;) {
                  const a = await emit({ channelId, content: s.content, nonce, ...(s.replyTo ? { replyTo: s.replyTo } : {}) });
                  if (a.ok) {
                    ids[i] = a.message.id;
                    break;
                  }
                  if (a.error?.code !== 'rate_limited' && !a.error?.retryable) throw new Error(JSON.stringify(a.error));
                  await new Promise((r) => setTimeout(r, Math.max(50, a.error?.retryAfterMs ?? 200)));
                }
              }
              clearTimeout(timer);
              ws.close();
              resolve();
            } catch (e) {
              reject(e);
            }
          };
        });
      await Promise.all([...byToken].map(([token, idx]) => run(token, idx)));
      return ids;
    },
    { channelId, sends },
  );
}

export async function joinServer(serverId: string, owner: AuthResult, user: AuthResult) {
  const invite = await api('POST', `/api/servers/${serverId}/invites`, {}, owner.accessToken);
  await api('POST', `/api/invites/${invite.code}/join`, undefined, user.accessToken);
}

/** A message row by id. */
export const row = (page: Page, id: string) => page.locator(`[data-testid="message-item"][data-message-id="${id}"]`);

/** A w×h PNG of one colour (no image library needed). */
export function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3).map((_, i) => rgb[i % 3])]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
