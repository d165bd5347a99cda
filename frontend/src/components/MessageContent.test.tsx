import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { MessageContent } from './MessageContent';

describe('MessageContent', () => {
  it('renders HTML literally, never as markup', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>';
    const { container } = render(<MessageContent content={evil} />);
    const el = screen.getByTestId('message-content');
    expect(el.textContent).toBe(evil);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
  });

  it('makes http(s) links clickable, opening safely in a new tab', () => {
    render(<MessageContent content={'docs at https://example.com/x?y=1, and more'} />);
    const a = screen.getByRole('link', { name: 'https://example.com/x?y=1' });
    expect(a.getAttribute('href')).toBe('https://example.com/x?y=1');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    expect(screen.getByTestId('message-content').textContent).toBe('docs at https://example.com/x?y=1, and more');
  });

  it('does not link javascript: URLs', () => {
    render(<MessageContent content="javascript:alert(document.cookie)" />);
    expect(screen.queryByRole('link')).toBeNull();
  });

  it('keeps line breaks in the text', () => {
    render(<MessageContent content={'line one\nline two'} />);
    expect(screen.getByTestId('message-content').textContent).toBe('line one\nline two');
  });
});
