import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderToStaticMarkup } from 'react-dom/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { bestOf3 } from '../test/timing';
import { loadParts } from './lazy';
import { MessageContent } from './MessageContent';

function content(text: string) {
  const { container } = render(<MessageContent content={text} />);
  return { el: screen.getByTestId('message-content'), container };
}

/** Elements the renderer may produce. Anything else means message text became markup. */
const ALLOWED_TAGS = new Set([
  'DIV', 'SPAN', 'STRONG', 'EM', 'U', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI', 'A',
]);
const ALLOWED_ATTRS = new Set([
  'class', 'data-testid', 'style', 'href', 'target', 'rel', 'title', 'role', 'aria-label', 'aria-hidden', 'tabindex',
  'inert', 'start', 'data-lang', 'data-spoiler', 'data-leave',
]);

/** Fails unless everything in `root` is an element the renderer makes, with its own attributes and safe links. */
function expectOnlyOwnMarkup(root: HTMLElement) {
  for (const el of [root, ...root.querySelectorAll('*')]) {
    expect(ALLOWED_TAGS.has(el.tagName), `unexpected <${el.tagName}>`).toBe(true);
    for (const attr of el.attributes) {
      expect(ALLOWED_ATTRS.has(attr.name), `unexpected attribute ${attr.name} on <${el.tagName}>`).toBe(true);
    }
    const style = el.getAttribute('style');
    if (style !== null) expect(style).toMatch(/^margin-top: [\d.]+rem;$/);
    if (el.tagName === 'A') {
      expect(new URL(el.getAttribute('href') ?? '').protocol).toMatch(/^(https?|mailto):$/);
      expect(el.getAttribute('rel')).toBe('noopener noreferrer nofollow');
      expect(el.getAttribute('target')).toBe('_blank');
    }
  }
}

describe('MessageContent: markdown', () => {
  it('renders bold, italic, underline, strikethrough and inline code as elements', () => {
    const { el } = content('**b** *i* __u__ ~~s~~ `c`');
    expect(el.querySelector('strong')?.textContent).toBe('b');
    expect(el.querySelector('em')?.textContent).toBe('i');
    expect(el.querySelector('u')?.textContent).toBe('u');
    expect(el.querySelector('s')?.textContent).toBe('s');
    expect(el.querySelector('code.md-code')?.textContent).toBe('c');
    expect(el.textContent).toBe('b i u s c');
  });

  it('renders quotes, lists and code blocks', () => {
    const { el } = content('> quoted\nreply\n- one\n- two\n\n```\nx <b>\n```');
    expect(el.querySelector('blockquote')?.textContent).toBe('quoted');
    expect([...el.querySelectorAll('ul > li')].map((li) => li.textContent)).toEqual(['one', 'two']);
    expect(el.querySelector('pre code')?.textContent).toBe('x <b>');
    expect(el.querySelector('b')).toBeNull();
  });

  it('keeps line breaks in the text', () => {
    expect(content('line one\nline two').el.textContent).toBe('line one\nline two');
  });

  it('keeps blank lines as space between paragraphs', () => {
    const { el } = content('a\n\n\nb');
    const [first, second] = el.querySelectorAll('.md-p');
    expect(first.getAttribute('style')).toBeNull();
    expect(second.getAttribute('style')).toBe('margin-top: 2.75rem;');
  });

  it('shows emoji for shortcodes, named for assistive technology', () => {
    content('hi :wave:');
    const e = screen.getByRole('img', { name: ':wave:' });
    expect(e.textContent).toBe('👋');
  });

  it('highlights a code block with a known language once the highlighter has loaded', async () => {
    const { el } = content('```js\nconst n = 1; // one\n```');
    expect(el.querySelector('pre')?.getAttribute('data-lang')).toBe('js');
    const keyword = await within(el).findByText('const', { selector: '.hljs-keyword' });
    expect(keyword.tagName).toBe('SPAN');
    expect(el.querySelector('.hljs-comment')?.textContent).toBe('// one');
    expect(el.querySelector('pre code')?.textContent).toBe('const n = 1; // one');
  });

  it('leaves a code block with an unknown language plain', async () => {
    const { el } = content('```nosuchlang\n<script>x</script>\n```\n```js\nlet a\n```');
    await within(el).findByText('let', { selector: '.hljs-keyword' }); // the highlighter has run
    expect(el.querySelector('pre')?.textContent).toBe('<script>x</script>');
    expect(el.querySelector('pre code')?.children).toHaveLength(0);
    expect(el.querySelector('script')).toBeNull();
  });
});

describe('MessageContent: spoilers', () => {
  it('hides the text until clicked', async () => {
    const { el } = content('the butler ||did it [here](https://example.com)||');
    const spoiler = screen.getByRole('button', { name: 'Spoiler, press to reveal' });
    const hidden = spoiler.querySelector('.spoiler-content');
    expect(hidden?.getAttribute('aria-hidden')).toBe('true');
    expect(hidden?.hasAttribute('inert')).toBe(true);
    expect(screen.queryByRole('link')).toBeNull(); // a link inside cannot be reached while hidden
    await userEvent.click(spoiler);
    expect(screen.queryByRole('button')).toBeNull();
    expect(el.querySelector('.spoiler.revealed')?.textContent).toBe('did it here (example.com)');
    expect(screen.getByRole('link', { name: /^here ?\(example\.com\)$/ })).toBeTruthy();
  });

  it('is reachable with Tab and revealed with Enter or Space', async () => {
    content('||one|| ||two||');
    const [one, two] = screen.getAllByRole('button');
    await userEvent.tab();
    expect(document.activeElement).toBe(one);
    await userEvent.keyboard('{Enter}');
    expect(screen.getAllByRole('button')).toHaveLength(1);
    await userEvent.tab();
    expect(document.activeElement).toBe(two);
    await userEvent.keyboard(' ');
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('ignores other keys', () => {
    content('||secret||');
    fireEvent.keyDown(screen.getByRole('button'), { key: 'a' });
    expect(screen.getByRole('button')).toBeTruthy();
  });
});

describe('MessageContent: links', () => {
  // The leave dialog is a lazy part; here it is loaded, as after the prefetch that follows the first paint.
  beforeAll(() => loadParts('messageDialogs'));

  it('makes http(s) links clickable, opening safely in a new tab', () => {
    const { el } = content('docs at https://example.com/x?y=1, and more');
    const a = screen.getByRole('link', { name: 'https://example.com/x?y=1' });
    expect(a.getAttribute('href')).toBe('https://example.com/x?y=1');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(a.querySelector('.link-target')).toBeNull(); // an autolink shows its own target
    expect(el.textContent).toBe('docs at https://example.com/x?y=1, and more');
  });

  it('a masked link shows where it really goes, visibly and in its name and title', () => {
    content('[https://bank.example](https://evil.example/login)');
    // (jsdom's accessible-name code drops the space before the span; browsers keep it)
    const a = screen.getByRole('link', { name: /^https:\/\/bank\.example ?\(evil\.example\)$/ });
    expect(a.getAttribute('href')).toBe('https://evil.example/login');
    expect(a.getAttribute('title')).toBe('https://evil.example/login');
    expect(a.querySelector('.link-target')?.textContent).toBe(' (evil.example)');
    expect(a.hasAttribute('data-leave')).toBe(true);
  });

  it('a plain ASCII link opens directly, without asking', () => {
    content('see https://example.com/a');
    const a = screen.getByRole('link', { name: 'https://example.com/a' });
    expect(a.hasAttribute('data-leave')).toBe(false);
    expect(fireEvent.click(a)).toBe(true); // not prevented: the browser follows it
    expect(screen.queryByTestId('leave-dialog')).toBeNull();
  });

  it('a look-alike (Cyrillic) host shows its real ASCII host and asks before leaving', async () => {
    content('login at https://\u0430pple.com/signin now'); // Cyrillic а
    const a = screen.getByRole('link', { name: /^https:\/\/\u0430pple\.com\/signin ?\(xn--pple-43d\.com\)$/ });
    expect(a.getAttribute('href')).toBe('https://xn--pple-43d.com/signin');
    await userEvent.click(a);
    const dialog = screen.getByTestId('leave-dialog');
    expect(within(dialog).getByRole('heading').textContent).toBe('You are leaving Parley');
    expect(within(dialog).getByTestId('leave-url').textContent).toBe('https://xn--pple-43d.com/signin');
    expect(within(dialog).getByRole('link', { name: 'Open link' }).getAttribute('href')).toBe('https://xn--pple-43d.com/signin');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByTestId('leave-dialog')).toBeNull();
  });

  it('a masked link asks before leaving, also on a middle click; the dialog names the real URL', async () => {
    content('[https://bank.example](https://evil.example/login)');
    const a = screen.getByRole('link', { name: /evil\.example/ });
    expect(fireEvent.click(a)).toBe(false); // default prevented: the browser does not follow it
    expect(screen.getByTestId('leave-url').textContent).toBe('https://evil.example/login');
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    fireEvent(a, new window.MouseEvent('auxclick', { bubbles: true, cancelable: true, button: 1 }));
    expect(screen.getByTestId('leave-url').textContent).toBe('https://evil.example/login');
  });

  it('a right-to-left override cannot disguise a link or the text around it', () => {
    const { el } = content('get https://example.com/\u202Egpj.exe here');
    expect(el.textContent).not.toMatch(/[\u202A-\u202E\u2066-\u2069]/);
    expect(screen.getByRole('link').getAttribute('href')).toBe('https://example.com/gpj.exe');
  });

  it('a mailto link shows the address', () => {
    content('[write to us](mailto:help@example.com)');
    expect(screen.getByRole('link', { name: /^write to us ?\(help@example\.com\)$/ }).getAttribute('href')).toBe(
      'mailto:help@example.com',
    );
  });
});

describe('MessageContent: nothing in a message runs or becomes markup', () => {
  const payloads = [
    '<script>window.__xss = 1</script>',
    '<img src=x onerror="window.__xss = 1">',
    '<svg onload=alert(1)><iframe src="javascript:alert(1)"></iframe>',
    '<a href="javascript:alert(1)" onclick="alert(1)">click</a>',
    '<div style="background:url(javascript:alert(1))" onmouseover=alert(1)>x</div>',
    '" onmouseover="alert(1)" x="',
    '[click](javascript:alert(1))',
    '[click](JaVaScRiPt:alert(1))',
    '[click](&#106;avascript:alert(1))',
    '[click](&#x6A;&#x61;vascript&#x3A;alert(1))',
    '[click](java\tscript:alert(1))',
    '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[click](vbscript:msgbox(1))',
    '[click](https://ok.example "onmouseover=alert(1)")',
    '[<img src=x onerror=alert(1)>](https://ok.example)',
    '[**x**](https://ok.example" onclick="alert(1))',
    '<javascript:alert(1)> <data:text/html,x> <https://ok.example/"onclick="alert(1)>',
    'javascript:alert(1) JAVASCRIPT://%0aalert(1) data:text/html,<script>alert(1)</script>',
    '```html\n<script>alert(1)</script><img src=x onerror=alert(1)>\n```',
    '`<img src=x onerror=alert(1)>`',
    '||<script>alert(1)</script>||',
    '> <iframe srcdoc="<script>alert(1)</script>">',
    ':smile:<script>alert(1)</script>',
    '&lt;script&gt;alert(1)&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62;',
  ];
  for (const payload of payloads) {
    it(JSON.stringify(payload), async () => {
      const { el } = content(payload);
      expectOnlyOwnMarkup(el);
      expect(el.querySelector('script, img, iframe, svg, object, embed, form, input, b, i')).toBeNull();
      if (payload.startsWith('```html')) {
        // The highlighted rendering (lazy, a moment later) must be as inert as the plain one. Waiting for it also
        // keeps the lazy import from finishing after the test file's environment is gone (an unhandled error).
        await waitFor(() => expect(el.querySelector('code.hljs')).not.toBeNull());
        expectOnlyOwnMarkup(el);
        expect(el.querySelector('script, img, iframe, svg, object, embed, form, input, b, i')).toBeNull();
      }
    });
  }

  it('keeps HTML as the literal text', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>';
    expect(content(evil).el.textContent).toBe(evil);
  });

  it('a javascript: masked link stays visible as plain text', () => {
    const { el } = content('[click me](javascript:alert(1))');
    expect(screen.queryByRole('link')).toBeNull();
    expect(el.textContent).toBe('[click me](javascript:alert(1))');
  });

  it('strips bidi overrides, so text cannot be reversed', () => {
    const { el } = content('invoice_\u202Efdp.exe **\u2067x\u2069**');
    expect(el.textContent).toBe('invoice_fdp.exe x');
  });

  // Parsing plus building the elements, measured with React's string renderer: jsdom's DOM emulation is several
  // times slower than a browser's and would measure the machine, not the renderer. (chat/markdown.test.ts times the
  // parser alone on more inputs.)
  it('renders a 4000-character adversarial message well under 100 ms', () => {
    const inputs = [
      '**_~~||`['.repeat(400),
      '*a_'.repeat(1333),
      '||a'.repeat(1333),
      '> - '.repeat(1000),
      '[a](https://x.y/'.repeat(250),
      ':smile:'.repeat(571),
      'https://a.example/' + '('.repeat(3980),
    ];
    for (const s of inputs) {
      expect(s.length).toBeLessThanOrEqual(4000);
      const ms = bestOf3(() => renderToStaticMarkup(<MessageContent content={s} />));
      expect(ms, s.slice(0, 20)).toBeLessThan(100);
    }
  });
});
