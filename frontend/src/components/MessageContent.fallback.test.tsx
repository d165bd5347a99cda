import { render, screen } from '@testing-library/react';
import { expect, it, vi } from 'vitest';

// Until the markdown chunk has loaded, a message is plain text: nothing parsed, nothing as markup, bidi controls
// still stripped.
it('shows plain text while the markdown parser is loading', async () => {
  vi.resetModules();
  vi.doMock('../chat/markdown', () => new Promise(() => {})); // never loads
  const { MessageContent } = await import('./MessageContent');
  const evil = '**x** <img src=x onerror=alert(1)> \u202Eabc';
  render(<MessageContent content={evil} />);
  const el = screen.getByTestId('message-content');
  expect(el.textContent).toBe('**x** <img src=x onerror=alert(1)> abc');
  expect(el.children).toHaveLength(0);
  vi.doUnmock('../chat/markdown');
});
