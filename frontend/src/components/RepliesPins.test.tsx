// Reply and pin actions on a message, the pin marker and the pin system line (issue #15).
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatItem } from '../chat/messageStore';
import { loggedIn, renderWithServices } from '../test/render';
import { MessageExtrasContext, type MessageExtras } from './messageExtras';
import { MessageItem } from './MessageItem';
import { PinSystemLine } from './PinsPanel';
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

function extras(over: Partial<MessageExtras> = {}): MessageExtras {
  return {
    channelId: 'c',
    canPin: true,
    pinned: new Set(),
    highlightId: null,
    reply: vi.fn(),
    setPinned: vi.fn(),
    jumpTo: vi.fn(),
    openPins: vi.fn(),
    ...over,
  };
}

function renderItem(x: MessageExtras, it: ChatItem = item(), mine = true) {
  loggedIn('me');
  const noop = vi.fn();
  renderWithServices(
    <MessageExtrasContext.Provider value={x}>
      <MessageItem item={it} mine={mine} editing={false} onStartEdit={noop} onCancelEdit={noop} onSaveEdit={noop} onDelete={noop} onRetry={noop} onDiscard={noop} />
    </MessageExtrasContext.Provider>,
  );
}

describe('reply and pin actions', () => {
  // The edit box, the open menu and the reaction picker are lazy parts; here they are loaded, as after the
  // prefetch that follows the first paint (MessageItem.lazy.test.tsx covers a key pressed before they arrive).
  beforeAll(() => loadParts('messageActions', 'reactionPicker'));

  it('own message: the menu offers Edit, Delete, Reply, Pin; Reply and Pin call through', async () => {
    const user = userEvent.setup();
    const x = extras();
    renderItem(x);
    await user.tab();
    await user.keyboard('{Enter}');
    expect(screen.getAllByRole('menuitem').map((i) => i.textContent)).toEqual(['Edit message', 'Delete message', 'Reply', 'Pin message', 'View profile']);
    await user.keyboard('{ArrowDown}{ArrowDown}{Enter}');
    expect(x.reply).toHaveBeenCalledWith(expect.objectContaining({ id: '10' }));
    await user.click(screen.getByTestId('pin-button'));
    expect(x.setPinned).toHaveBeenCalledWith('10', true);
  });

  it("someone else's message: Reply for everyone, no Pin without the right, no edit/delete", async () => {
    const user = userEvent.setup();
    renderItem(extras({ canPin: false }), item({ senderId: 'bob' }), false);
    expect(screen.getByTestId('reply-button').getAttribute('aria-label')).toBe('Reply');
    expect(screen.queryByTestId('pin-button')).toBeNull();
    expect(screen.queryByTestId('edit-message-button')).toBeNull();
    await user.tab();
    await user.keyboard('{Enter}');
    expect(screen.getAllByRole('menuitem').map((i) => i.textContent)).toEqual(['Reply']);
  });

  it('a pinned message shows the marker and offers Unpin; a jumped-to one is highlighted', async () => {
    const user = userEvent.setup();
    const x = extras({ pinned: new Set(['10']), highlightId: '10' });
    renderItem(x);
    expect(screen.getByTestId('pin-marker').textContent).toContain('Pinned');
    expect(screen.getByTestId('message-item').className).toContain('highlighted');
    await user.click(screen.getByRole('button', { name: 'Unpin message' }));
    expect(x.setPinned).toHaveBeenCalledWith('10', false);
  });

  it('pending messages offer no reply yet', () => {
    renderItem(extras(), item({ id: null, key: 'nonce:n', state: 'pending' }));
    expect(screen.queryByTestId('reply-button')).toBeNull();
  });
});

describe('pin system line', () => {
  it('"<name> pinned a message. See all pinned messages." with both links working', async () => {
    const user = userEvent.setup();
    loggedIn('me');
    const x = extras();
    renderWithServices(
      <MessageExtrasContext.Provider value={x}>
        <PinSystemLine item={item({ id: '11', type: 'pin', content: '', replyTo: '10' })} />
      </MessageExtrasContext.Provider>,
    );
    const line = screen.getByTestId('pin-system-line');
    expect(line.textContent).toMatch(/📌 Me Myself pinned a message\. See all pinned messages\./);
    await user.click(screen.getByRole('button', { name: 'a message' }));
    expect(x.jumpTo).toHaveBeenCalledWith('10');
    await user.click(screen.getByRole('button', { name: 'See all pinned messages.' }));
    expect(x.openPins).toHaveBeenCalled();
  });
});
