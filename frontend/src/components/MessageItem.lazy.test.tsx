// A message's menu, edit box and reaction picker are lazy parts (components/lazy.tsx). A key pressed before their
// chunk arrived must not be lost: the action waits for the chunk and then happens. This file never preloads them
// (each Vitest file has its own module graph, so the chunks start out not loaded). Transforming a chunk on first
// import is slow on a loaded machine: generous timeouts, no timing assertion.
const arrival = { timeout: 20_000 };
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ChatItem } from '../chat/messageStore';
import { loggedIn, renderWithServices } from '../test/render';
import { MessageItem } from './MessageItem';

const item: ChatItem = {
  key: '10',
  id: '10',
  nonce: 'n',
  channelId: 'c',
  senderId: 'me',
  content: 'hello there',
  timestamp: new Date().toISOString(),
  state: 'sent',
  groupStart: true,
  dayStart: false,
};

describe('MessageItem before its lazy parts arrive', () => {
  it('the menu opened from the keyboard, then "Add reaction": each shows and takes the focus when its chunk is here', async () => {
    loggedIn('me');
    const onReact = vi.fn();
    const noop = vi.fn();
    renderWithServices(
      <MessageItem item={item} mine editing={false} onStartEdit={noop} onCancelEdit={noop} onSaveEdit={noop} onDelete={noop} onRetry={noop} onDiscard={noop} onReact={onReact} />,
    );
    const user = userEvent.setup();
    await user.tab();
    await user.keyboard('{End}{Enter}'); // End does nothing on the button; Enter opens the menu on its first item
    await waitFor(() => expect(document.activeElement?.getAttribute('role')).toBe('menuitem'), arrival);
    expect(document.activeElement?.textContent).toBe('Edit message');
    await user.keyboard('{End}{ArrowUp}{Enter}'); // "Add reaction" (the last but one: "View profile" is last)
    await waitFor(() => expect(document.activeElement).toBe(screen.getAllByTestId('quick-reaction')[0]), arrival);
    await user.keyboard('{Enter}');
    expect(onReact).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), '👍', true);
  }, 60_000);

  it('Up arrow editing: the edit box takes the focus when it arrives, with the text', async () => {
    loggedIn('me');
    const noop = vi.fn();
    renderWithServices(
      <MessageItem item={item} mine editing onStartEdit={noop} onCancelEdit={noop} onSaveEdit={noop} onDelete={noop} onRetry={noop} onDiscard={noop} />,
    );
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('edit-input')), arrival);
    expect((document.activeElement as HTMLTextAreaElement).value).toBe('hello there');
  }, 60_000);
});
