import { describe, expect, it } from 'vitest';
import { safeHref, splitLinks } from './linkify';

describe('splitLinks', () => {
  it('finds http and https links and trims trailing punctuation', () => {
    expect(splitLinks('see https://example.com/a?b=1. and http://x.org!')).toEqual([
      { type: 'text', text: 'see ' },
      { type: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { type: 'text', text: '. and ' },
      { type: 'link', text: 'http://x.org', href: 'http://x.org/' },
      { type: 'text', text: '!' },
    ]);
  });

  it('keeps balanced parentheses', () => {
    const s = splitLinks('(https://en.wikipedia.org/wiki/Foo_(bar))');
    expect(s[1]).toEqual({
      type: 'link',
      text: 'https://en.wikipedia.org/wiki/Foo_(bar)',
      href: 'https://en.wikipedia.org/wiki/Foo_(bar)',
    });
    expect(s[2]).toEqual({ type: 'text', text: ')' });
  });

  it('never links other schemes', () => {
    for (const t of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://x.org', 'vbscript:msgbox']) {
      expect(splitLinks(t)).toEqual([{ type: 'text', text: t }]);
    }
  });

  it('leaves HTML as plain text', () => {
    expect(splitLinks('<img src=x onerror=alert(1)>')).toEqual([{ type: 'text', text: '<img src=x onerror=alert(1)>' }]);
  });

  it('does not link a bare scheme', () => {
    expect(splitLinks('http:// nothing')).toEqual([{ type: 'text', text: 'http:// nothing' }]);
  });
});

describe('safeHref', () => {
  it('accepts only absolute http(s)', () => {
    expect(safeHref('https://a.b/')).toBe('https://a.b/');
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('/relative')).toBeNull();
  });
});
