// Markdown in messages (issue #15): Alice writes Discord-flavoured markdown and XSS payloads through the UI; Bob,
// in his own browser context, sees the markup rendered and nothing run.
import { expect, test, type Page } from '@playwright/test';
import { closeAll, screenshot, send, setupPair, type UserPage } from './helpers';

/** The one message row whose rendered text contains `text`, once it is stored (has an id). */
async function row(page: Page, text: string) {
  const r = page.getByTestId('message-item').filter({ has: page.getByTestId('message-content').filter({ hasText: text }) });
  await expect(r).toHaveCount(1);
  await expect(r).toHaveAttribute('data-state', 'sent');
  return r.getByTestId('message-content');
}

/** Alice sends `text` and waits until her own copy is stored. */
async function sendStored(a: UserPage, text: string, visible: string) {
  await send(a.page, text);
  await row(a.page, visible);
}

test('markdown: Bob sees bold, code, quotes, spoilers, lists, masked links, emoji and highlighted code', async ({ browser }) => {
  const p = await setupPair(browser, 'Markdown Club');
  try {
    const { a, b } = p;
    const bob = b.page;

    await sendStored(a, '**bold** *italic* __under__ ~~gone~~ `a_code` :tada:', 'bold italic under gone a_code 🎉');
    const inline = await row(bob, 'bold italic under gone a_code 🎉');
    await expect(inline.locator('strong')).toHaveText('bold');
    await expect(inline.locator('em')).toHaveText('italic');
    await expect(inline.locator('u')).toHaveText('under');
    await expect(inline.locator('s')).toHaveText('gone');
    await expect(inline.locator('code')).toHaveText('a_code');
    await expect(inline.getByRole('img', { name: ':tada:' })).toHaveText('🎉');

    await sendStored(a, '> a wise quote\n> on two lines\nmy answer', 'a wise quote');
    const quote = await row(bob, 'a wise quote');
    await expect(quote.locator('blockquote')).toHaveText('a wise quote\non two lines');
    await expect(quote.locator('blockquote')).not.toContainText('my answer');
    await expect(quote).toContainText('my answer');

    await sendStored(a, 'the ending: ||the butler did it||', 'the ending:');
    const spoilerMsg = await row(bob, 'the ending:');
    const spoiler = spoilerMsg.getByRole('button', { name: 'Spoiler, press to reveal' });
    await expect(spoiler).toBeVisible();
    await expect(spoilerMsg.getByText('the butler did it')).toBeHidden();
    await spoiler.focus();
    await bob.keyboard.press('Enter');
    await expect(spoilerMsg.getByText('the butler did it')).toBeVisible();
    await expect(spoilerMsg.getByRole('button')).toHaveCount(0);

    await sendStored(a, 'todo:\n- milk\n- bread\n\n1. first\n2. second', 'todo:');
    const lists = await row(bob, 'todo:');
    await expect(lists.locator('ul > li')).toHaveText(['milk', 'bread']);
    await expect(lists.locator('ol > li')).toHaveText(['first', 'second']);

    await sendStored(a, 'read [the docs](https://example.com/docs) or https://example.org/x.', 'read the docs');
    const linkMsg = await row(bob, 'read the docs');
    const masked = linkMsg.getByRole('link', { name: 'the docs (example.com)' });
    await expect(masked).toHaveAttribute('href', 'https://example.com/docs');
    await expect(masked).toHaveAttribute('title', 'https://example.com/docs');
    await expect(masked).toHaveAttribute('target', '_blank');
    await expect(masked).toHaveAttribute('rel', 'noopener noreferrer nofollow');
    await expect(linkMsg.getByRole('link', { name: 'https://example.org/x' })).toHaveAttribute('href', 'https://example.org/x');

    await sendStored(a, '```js\nconst answer = 42; // the question\n```', 'const answer = 42;');
    const code = await row(bob, 'const answer = 42;');
    // The highlighter is a separate chunk: this also proves the server serves it.
    await expect(code.locator('pre .hljs-keyword').first()).toHaveText('const');
    await expect(code.locator('pre .hljs-comment')).toHaveText('// the question');
    // Readable in the light theme: code text differs clearly from its background.
    const colors = await code.locator('pre').evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
    expect(colors[0]).not.toBe(colors[1]);

    await screenshot(bob, 'markdown');
  } finally {
    await closeAll(p.a, p.b);
  }
});

test('markdown: XSS payloads render as text for Bob; nothing runs, no javascript: link', async ({ browser }) => {
  const p = await setupPair(browser, 'XSS Club');
  try {
    const { a, b } = p;
    const bob = b.page;
    // A sentinel any executed payload would set; a dialog already lands in b.dialogs (checked below).
    for (const u of [a, b]) await u.page.evaluate(() => ((window as unknown as { __xss: number }).__xss = 0));

    const payloads: [string, string][] = [
      ['<script>window.__xss = 1</script> s1', 's1'],
      ['<img src=x onerror="window.__xss = 2;alert(2)"> s2', 's2'],
      ['<svg onload="window.__xss = 3"></svg><iframe src="javascript:window.__xss=4"></iframe> s3', 's3'],
      ['[click me](javascript:window.__xss=5) s4', 's4'],
      ['[JaVaScRiPt](JaVaScRiPt:window.__xss=6) [ent](&#106;avascript:window.__xss=7) s5', 's5'],
      ['[data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9ODwvc2NyaXB0Pg==) <javascript:window.__xss=9> s6', 's6'],
      ['```html\n<script>window.__xss = 10</script><img src=x onerror="window.__xss=11">\n```\ns7', 's7'],
      ['||<img src=x onerror="window.__xss=12">|| `<b onmouseover="window.__xss=13">x</b>` s8', 's8'],
      ['invoice_\u202Efdp.exe s9', 's9'],
    ];
    for (const [text, marker] of payloads) await sendStored(a, text, marker);

    const list = bob.getByTestId('message-list');
    for (const [, marker] of payloads) await row(bob, marker);

    // The javascript: masked link is plain text, not a link; clicking it does nothing.
    const jsLink = await row(bob, 's4');
    await expect(jsLink).toHaveText('[click me](javascript:window.__xss=5) s4');
    await expect(jsLink.locator('a')).toHaveCount(0);
    await jsLink.getByText('click me', { exact: false }).click();
    await expect(await row(bob, 's5')).toHaveText('[JaVaScRiPt](JaVaScRiPt:window.__xss=6) [ent](&#106;avascript:window.__xss=7) s5');

    // HTML in a code block is its text.
    await expect((await row(bob, 's7')).locator('pre')).toHaveText('<script>window.__xss = 10</script><img src=x onerror="window.__xss=11">');
    // Revealing a spoiler with HTML in it shows the text, still no element.
    const s8 = await row(bob, 's8');
    await s8.getByRole('button', { name: 'Spoiler, press to reveal' }).click();
    await expect(s8).toContainText('<img src=x onerror="window.__xss=12">');
    await s8.locator('code').hover();

    // The right-to-left override is gone: the name reads as typed, not as "invoice_exe.pdf".
    const rtl = await row(bob, 's9');
    expect(await rtl.textContent()).toBe('invoice_fdp.exe s9');

    // No element from any payload, every link is http(s) or mailto.
    await expect(list.locator('script, img, svg, iframe, object, embed, b')).toHaveCount(0);
    const hrefs = await list.locator('a').evaluateAll((as) => as.map((x) => x.getAttribute('href') ?? ''));
    for (const h of hrefs) expect(h, 'link in the message list').toMatch(/^(https?:\/\/|mailto:)/);

    await bob.waitForTimeout(1_000); // an onerror or onload handler would have run by now
    for (const u of [a, b]) {
      expect(await u.page.evaluate(() => (window as unknown as { __xss: number }).__xss), 'payload ran').toBe(0);
    }
    expect(a.dialogs, 'dialogs opened in Alice’s page').toEqual([]);
    expect(b.dialogs, 'dialogs opened in Bob’s page').toEqual([]);
  } finally {
    await closeAll(p.a, p.b);
  }
});
