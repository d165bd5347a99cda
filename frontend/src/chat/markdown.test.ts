import { describe, expect, it } from 'vitest';
import { bestOf3 } from '../test/timing';
import { linkTarget, parseMessage, safeHref, stripBidiControls, type MdBlock, type MdInline } from './markdown';

/** The inline nodes of a message that is one paragraph. */
function inline(content: string): MdInline[] {
  const blocks = parseMessage(content);
  expect(blocks).toHaveLength(1);
  const [b] = blocks;
  if (b.type !== 'paragraph') throw new Error(`expected a paragraph, got ${b.type}`);
  return b.children;
}

const t = (text: string): MdInline => ({ type: 'text', text });
const p = (children: MdInline[], gap = 0): MdBlock => ({ type: 'paragraph', gap, children });

/** Every link in a tree, depth first. */
function links(nodes: (MdBlock | MdInline)[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    if (n.type === 'link') out.push(n.href);
    if ('children' in n) out.push(...links(n.children as (MdBlock | MdInline)[]));
    if (n.type === 'list') for (const item of n.items) out.push(...links(item));
  }
  return out;
}

describe('parseMessage: inline markup', () => {
  it('bold, italic (both markers), underline, strikethrough, inline code', () => {
    expect(inline('**b** *i* _j_ __u__ ~~s~~ `c`')).toEqual([
      { type: 'strong', children: [t('b')] },
      t(' '),
      { type: 'em', children: [t('i')] },
      t(' '),
      { type: 'em', children: [t('j')] },
      t(' '),
      { type: 'underline', children: [t('u')] },
      t(' '),
      { type: 'strike', children: [t('s')] },
      t(' '),
      { type: 'code', text: 'c' },
    ]);
  });

  it('nests: bold italic, underline italic, bold inside a spoiler', () => {
    expect(inline('***x***')).toEqual([{ type: 'em', children: [{ type: 'strong', children: [t('x')] }] }]);
    expect(inline('__*x*__')).toEqual([{ type: 'underline', children: [{ type: 'em', children: [t('x')] }] }]);
    expect(inline('||a **b**||')).toEqual([{ type: 'spoiler', children: [t('a '), { type: 'strong', children: [t('b')] }] }]);
  });

  it('spoilers, also with spaces inside, and an odd pipe stays text', () => {
    expect(inline('see ||the end|| now')).toEqual([t('see '), { type: 'spoiler', children: [t('the end')] }, t(' now')]);
    expect(inline('|| spaced ||')).toEqual([{ type: 'spoiler', children: [t(' spaced ')] }]);
    expect(inline('a | b || c')).toEqual([t('a | b || c')]);
  });

  it('unclosed or unbalanced markers stay as typed', () => {
    for (const s of ['**bold', '*a', '__u', '~~s', '||spoiler', '`code', 'a ** b', '2 * 3 * 4']) {
      expect(inline(s)).toEqual([t(s)]);
    }
  });

  it('underscores inside words are not emphasis', () => {
    expect(inline('snake_case_name and __init__.py')).toEqual([
      t('snake_case_name and '),
      { type: 'underline', children: [t('init')] },
      t('.py'),
    ]);
  });

  it('markup inside inline code is literal', () => {
    expect(inline('`**not bold** <b>`')).toEqual([{ type: 'code', text: '**not bold** <b>' }]);
  });

  it('a backslash escapes a marker', () => {
    expect(inline('\\*not italic\\* \\|\\|no spoiler\\|\\|')).toEqual([t('*not italic* ||no spoiler||')]);
  });

  it('emoji shortcodes become emoji; unknown names and names in code stay text', () => {
    expect(inline(':smile: :thumbsup: :not_an_emoji: `:smile:`')).toEqual([
      { type: 'emoji', name: 'smile', char: '😄' },
      t(' '),
      { type: 'emoji', name: 'thumbsup', char: '👍' },
      t(' :not_an_emoji: '),
      { type: 'code', text: ':smile:' },
    ]);
    expect(inline(':constructor: :toString: :hasOwnProperty:')).toEqual([t(':constructor: :toString: :hasOwnProperty:')]);
  });

  it('no emoticon replacement, no HTML entities decoded', () => {
    expect(inline(':) :-( 8) &lt;b&gt; &amp;')).toEqual([t(':) :-( 8) &lt;b&gt; &amp;')]);
  });

  it('one newline is a line break', () => {
    expect(inline('one\ntwo')).toEqual([t('one'), { type: 'break' }, t('two')]);
  });
});

describe('parseMessage: links', () => {
  it('autolinks http(s) and trims trailing punctuation, keeping balanced parentheses', () => {
    expect(inline('see https://example.com/a?b=1. and http://x.org!')).toEqual([
      t('see '),
      { type: 'link', href: 'https://example.com/a?b=1', masked: false, children: [t('https://example.com/a?b=1')] },
      t('. and '),
      { type: 'link', href: 'http://x.org/', masked: false, children: [t('http://x.org')] },
      t('!'),
    ]);
    expect(links(parseMessage('(https://en.wikipedia.org/wiki/Foo_(bar))'))).toEqual(['https://en.wikipedia.org/wiki/Foo_(bar)']);
  });

  it('masked links keep their text and are marked masked', () => {
    expect(inline('[the docs](https://example.com/docs)')).toEqual([
      { type: 'link', href: 'https://example.com/docs', masked: true, children: [t('the docs')] },
    ]);
    expect(inline('<https://example.com>')).toEqual([
      { type: 'link', href: 'https://example.com/', masked: false, children: [t('https://example.com')] },
    ]);
    expect(inline('[mail me](mailto:a@example.com)')).toEqual([
      { type: 'link', href: 'mailto:a@example.com', masked: true, children: [t('mail me')] },
    ]);
  });

  it('no bare domains, bare e-mail addresses, ftp or protocol-relative links', () => {
    for (const s of ['example.com', 'a@example.com', 'ftp://example.com/x', '//example.com/x', 'www.example.com']) {
      expect(links(parseMessage(s))).toEqual([]);
    }
  });

  it('never links dangerous or relative targets, however they are spelled', () => {
    const targets = [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      '&#106;avascript:alert(1)',
      '&#x6A;avascript:alert(1)',
      '&#0000106&#0000097vascript:alert(1)',
      'javascript&colon;alert(1)',
      '%6Aavascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'DATA:text/html,x',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      '/relative/path',
      '#fragment',
      '<javascript:alert(1)>',
    ];
    for (const target of targets) {
      const blocks = parseMessage(`[click](${target}) <${target}> ${target}`);
      expect(links(blocks), target).toEqual([]);
    }
  });

  it('the text of a link cannot hold another link', () => {
    expect(links(parseMessage('[https://good.example](https://evil.example)'))).toEqual(['https://evil.example/']);
  });
});

describe('parseMessage: blocks', () => {
  it('fenced code blocks keep their language and their text verbatim', () => {
    expect(parseMessage('```js\nconst a = "<b>**x**</b>";\n```\nafter')).toEqual([
      { type: 'codeBlock', gap: 0, lang: 'js', text: 'const a = "<b>**x**</b>";' },
      p([t('after')]),
    ]);
    expect(parseMessage('```\nplain\n```')).toEqual([{ type: 'codeBlock', gap: 0, lang: '', text: 'plain' }]);
  });

  it('a code block may close at the end of its last line, as in Discord', () => {
    expect(parseMessage('```js\nconst a = 1;```\nafter')).toEqual([
      { type: 'codeBlock', gap: 0, lang: 'js', text: 'const a = 1;' },
      p([t('after')]),
    ]);
    expect(parseMessage('````\nx ```\n````')).toEqual([{ type: 'codeBlock', gap: 0, lang: '', text: 'x ```' }]);
  });

  it('an unclosed fence runs to the end of the message', () => {
    expect(parseMessage('```py\nprint(1)\n**x**')).toEqual([{ type: 'codeBlock', gap: 0, lang: 'py', text: 'print(1)\n**x**' }]);
  });

  it('"> " quotes only its own lines', () => {
    expect(parseMessage('> quoted\n> still\nmy reply')).toEqual([
      { type: 'quote', gap: 0, children: [p([t('quoted'), { type: 'break' }, t('still')])] },
      p([t('my reply')]),
    ]);
  });

  it('">>> " quotes the rest of the message, but not inside a code block', () => {
    expect(parseMessage('before\n>>> one\ntwo\n\nthree')).toEqual([
      p([t('before')]),
      { type: 'quote', gap: 0, children: [p([t('one'), { type: 'break' }, t('two')]), p([t('three')], 1)] },
    ]);
    expect(parseMessage('```\n>>> 1 + 1\n```')).toEqual([{ type: 'codeBlock', gap: 0, lang: '', text: '>>> 1 + 1' }]);
  });

  it('bulleted and numbered lists', () => {
    expect(parseMessage('- a\n- **b**\n\n3. three\n4. four')).toEqual([
      { type: 'list', gap: 0, ordered: false, start: 1, items: [[p([t('a')])], [p([{ type: 'strong', children: [t('b')] }])]] },
      { type: 'list', gap: 0, ordered: true, start: 3, items: [[p([t('three')])], [p([t('four')])]] },
    ]);
  });

  it('keeps blank lines between paragraphs', () => {
    expect(parseMessage('a\n\n\nb')).toEqual([p([t('a')]), p([t('b')], 2)]);
  });

  it('headings, rules, indented code and tables are not markdown here', () => {
    expect(inline('# not a heading\n---\n    not code\n| a | b |')).toEqual([
      t('# not a heading'),
      { type: 'break' },
      t('---'),
      { type: 'break' },
      t('not code'),
      { type: 'break' },
      t('| a | b |'),
    ]);
  });

  it('HTML is text, in paragraphs and in code blocks', () => {
    const html = '<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)" onclick="x()">y</a>';
    expect(inline(html)).toEqual([t(html)]);
    expect(parseMessage('```html\n' + html + '\n```')).toEqual([{ type: 'codeBlock', gap: 0, lang: 'html', text: html }]);
  });
});

describe('bidi controls', () => {
  it('removes embedding, override and isolate characters everywhere, keeping the text', () => {
    const all = '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069';
    expect(stripBidiControls(`a${all}b`)).toBe('ab');
    expect(inline('invoice_\u202Efdp.exe')).toEqual([t('invoice_fdp.exe')]);
    const [b] = parseMessage('**\u202Ebold** `\u2067code\u2069` [\u202Etxt](https://example.com/\u202Ex)');
    expect(JSON.stringify(b)).not.toMatch(/[\u202A-\u202E\u2066-\u2069]/);
  });

  it('keeps right-to-left text itself', () => {
    expect(inline('שלום **עולם**')).toEqual([t('שלום '), { type: 'strong', children: [t('עולם')] }]);
  });
});

describe('safeHref and linkTarget', () => {
  it('accepts absolute http(s) with a host and mailto only', () => {
    expect(safeHref('https://a.b/')).toBe('https://a.b/');
    expect(safeHref('HTTP://A.B')).toBe('http://a.b/');
    expect(safeHref('mailto:x@y.z')).toBe('mailto:x@y.z');
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', '/relative', 'http:/', 'ftp://a.b', 'vbscript:x', '']) {
      expect(safeHref(bad), bad).toBeNull();
    }
  });

  it('names the host, or the mail address', () => {
    expect(linkTarget('https://evil.example:8443/login?x')).toBe('evil.example:8443');
    expect(linkTarget('https://xn--pple-43d.com/')).toBe('xn--pple-43d.com');
    expect(linkTarget('mailto:a@example.com')).toBe('a@example.com');
  });
});

describe('parseMessage: adversarial input (messages are at most 4000 characters)', () => {
  const cases: [string, string][] = [
    ['stars', '*'.repeat(4000)],
    ['star-letter', '*a'.repeat(2000)],
    ['underscores', '_a__'.repeat(1000)],
    ['pipes', '|'.repeat(4000)],
    ['pipe-letter', '||a'.repeat(1333)],
    ['tildes', '~a~~'.repeat(1000)],
    ['mixed markers', '**_~~||`'.repeat(500)],
    ['brackets', '['.repeat(4000)],
    ['link openers', '[a]('.repeat(1000)],
    ['nested links', '[['.repeat(1000) + '](https://x.y)'.repeat(200)],
    ['backticks', '`a``'.repeat(1000)],
    ['angle', '<'.repeat(2000) + 'https://x'],
    ['quotes', '>'.repeat(4000)],
    ['quote lines', '> a\n'.repeat(1000)],
    ['multi quote', '>>> '.repeat(1000)],
    ['nested lists', '- '.repeat(2000)],
    ['numbered', '1. '.repeat(1333)],
    ['colons', ':a'.repeat(2000)],
    ['emoji', ':smile:'.repeat(571)],
    ['url parens', 'https://a.example/' + '('.repeat(3980)],
    ['urls', 'https://a.b/x '.repeat(285)],
    ['escapes', '\\'.repeat(4000)],
    ['fences', '```\n'.repeat(1000)],
    ['bidi', '\u202E'.repeat(4000)],
  ];
  for (const [name, s] of cases) {
    it(`${name} (${s.length} chars) parses fast`, () => {
      expect(bestOf3(() => parseMessage(s))).toBeLessThan(50);
    });
  }
});
