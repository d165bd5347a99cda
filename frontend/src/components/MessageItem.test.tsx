import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatItem } from '../chat/messageStore';
import { loggedIn, renderWithServices } from '../test/render';
import { MessageItem, type MessageItemProps } from './MessageItem';
import { loadParts } from './lazy';

function item(over: Partial<ChatItem> = {}): ChatItem {
  return {
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
    ...over,
  };
}

function renderItem(props: Partial<MessageItemProps>) {
  loggedIn('me');
  const handlers = {
    onStartEdit: vi.fn(),
    onCancelEdit: vi.fn(),
    onSaveEdit: vi.fn(),
    onDelete: vi.fn(),
    onRetry: vi.fn(),
    onDiscard: vi.fn(),
  };
  renderWithServices(<MessageItem item={item()} mine editing={false} {...handlers} {...props} />);
  return handlers;
}

describe('MessageItem', () => {
  // The edit box, the open menu and the reaction picker are lazy parts; here they are loaded, as after the
  // prefetch that follows the first paint (MessageItem.lazy.test.tsx covers a key pressed before they arrive).
  beforeAll(() => loadParts('messageActions', 'reactionPicker'));

  it('shows author, content, and stable test hooks', () => {
    renderItem({});
    const el = screen.getByTestId('message-item');
    expect(el.getAttribute('data-message-id')).toBe('10');
    expect(el.getAttribute('data-state')).toBe('sent');
    expect(screen.getByTestId('message-author').textContent).toBe('Me Myself');
    expect(screen.getByTestId('message-content').textContent).toBe('hello there');
  });

  it('shows the unique username beside a display name, so a look-alike name cannot pass for someone else', () => {
    renderItem({});
    expect(screen.getByTestId('message-username').textContent).toBe('@me');
    expect(screen.getByTestId('message-author').getAttribute('title')).toBe('@me');
  });

  it('marks edited messages', () => {
    renderItem({ item: item({ editedAt: new Date().toISOString() }) });
    expect(screen.getByTestId('message-edited').textContent).toBe('(edited)');
  });

  it('pending messages have no id and a pending state', () => {
    renderItem({ item: item({ id: null, key: 'nonce:n', state: 'pending' }), status: 'pending' });
    const el = screen.getByTestId('message-item');
    expect(el.getAttribute('data-message-id')).toBe('');
    expect(el.getAttribute('data-state')).toBe('pending');
    expect(screen.getByTestId('message-status').getAttribute('data-status')).toBe('pending');
    expect(screen.queryByTestId('edit-message-button')).toBeNull();
  });

  it('failed messages show Retry and Discard', async () => {
    const user = userEvent.setup();
    const it0 = item({ id: null, key: 'nonce:n', state: 'failed', error: 'No answer from the server.' });
    const h = renderItem({ item: it0 });
    expect(screen.getByRole('alert').textContent).toContain('No answer from the server.');
    await user.click(screen.getByTestId('retry-button'));
    expect(h.onRetry).toHaveBeenCalledWith(it0);
    await user.click(screen.getByTestId('discard-button'));
    expect(h.onDiscard).toHaveBeenCalledWith(it0);
  });

  it('own sent messages can be edited and deleted', async () => {
    const user = userEvent.setup();
    const h = renderItem({});
    await user.click(screen.getByTestId('edit-message-button'));
    expect(h.onStartEdit).toHaveBeenCalled();
    await user.click(screen.getByTestId('delete-message-button'));
    expect(h.onDelete).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), false);
  });

  it('others’ messages have no edit/delete actions', () => {
    renderItem({ mine: false, item: item({ senderId: 'someone' }) });
    expect(screen.queryByTestId('edit-message-button')).toBeNull();
  });

  it('editing: Enter saves, Escape cancels', async () => {
    const user = userEvent.setup();
    const h = renderItem({ editing: true });
    const box = screen.getByTestId('edit-input');
    await user.clear(box);
    await user.type(box, 'changed{Enter}');
    expect(h.onSaveEdit).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), 'changed');
    await user.type(box, '{Escape}');
    expect(h.onCancelEdit).toHaveBeenCalled();
  });

  it('shows delivered / seen for own DM messages', () => {
    renderItem({ status: 'seen' });
    expect(screen.getByTestId('message-status').getAttribute('data-status')).toBe('seen');
    expect(screen.getByTestId('message-status').textContent).toContain('Seen');
  });

  it('keyboard: Tab reaches "More actions" (the only tab stop); the menu works with arrows, Enter and Esc', async () => {
    const user = userEvent.setup();
    const h = renderItem({});
    await user.tab();
    const button = screen.getByTestId('message-menu-button');
    expect(document.activeElement).toBe(button);
    expect(button.getAttribute('aria-haspopup')).toBe('menu');
    expect(button.getAttribute('aria-expanded')).toBe('false');

    await user.keyboard('{Enter}');
    expect(button.getAttribute('aria-expanded')).toBe('true');
    const items = screen.getAllByRole('menuitem');
    expect(items.map((i) => i.textContent)).toEqual(['Edit message', 'Delete message', 'View profile']);
    expect(document.activeElement).toBe(items[0]);
    await user.keyboard('{ArrowDown}');
    expect(document.activeElement).toBe(items[1]);
    await user.keyboard('{ArrowDown}');
    expect(document.activeElement).toBe(items[2]);
    await user.keyboard('{ArrowDown}'); // wraps
    expect(document.activeElement).toBe(items[0]);
    await user.keyboard('{ArrowUp}');
    expect(document.activeElement).toBe(items[2]);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement).toBe(button);
    expect(h.onDelete).not.toHaveBeenCalled();

    await user.keyboard('{ArrowUp}'); // opens on the last item
    expect(document.activeElement?.textContent).toBe('View profile');
    await user.keyboard('{ArrowUp}');
    expect(document.activeElement?.textContent).toBe('Delete message');
    await user.keyboard('{Enter}');
    expect(h.onDelete).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), false);
    expect(screen.queryByRole('menu')).toBeNull();

    await user.keyboard(' '); // Space opens it too
    expect(document.activeElement?.textContent).toBe('Edit message');
    await user.keyboard('{Enter}');
    expect(h.onStartEdit).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }));
  });

  it('reactions: any sent message offers "Add reaction" in its menu; the picker reacts and closes', async () => {
    const user = userEvent.setup();
    const onReact = vi.fn();
    renderItem({ mine: false, onReact });
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId('message-menu-button'));
    await user.keyboard('{Enter}');
    expect(screen.getAllByRole('menuitem').map((i) => i.textContent)).toEqual(['Add reaction', 'View profile']);
    await user.keyboard('{Enter}');
    const picker = screen.getByTestId('reaction-picker');
    expect(document.activeElement).toBe(screen.getAllByTestId('quick-reaction')[0]);
    await user.keyboard('{Enter}');
    expect(onReact).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), '👍', true);
    expect(picker.isConnected).toBe(false);
    expect(document.activeElement).toBe(screen.getByTestId('message-menu-button'));
  });

  it('reactions: the bar shows under the message; picking an emoji I already reacted with changes nothing', async () => {
    const onReact = vi.fn();
    renderItem({ mine: false, onReact, item: item({ reactions: [{ emoji: '👍', count: 1, me: true, userIds: ['me'] }] }) });
    expect(screen.getByTestId('reaction').dataset.count).toBe('1');
    await userEvent.click(screen.getByTestId('reaction-bar-add'));
    await userEvent.click(screen.getAllByTestId('quick-reaction')[0]);
    expect(onReact).not.toHaveBeenCalled();
    expect(screen.queryByTestId('reaction-picker')).toBeNull();
    await userEvent.click(screen.getByTestId('reaction'));
    expect(onReact).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }), '👍', false);
  });

  it('others\' messages and pending ones offer no actions', () => {
    renderItem({ mine: false });
    expect(screen.queryByTestId('message-menu-button')).toBeNull();
  });
});
