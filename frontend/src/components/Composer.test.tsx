import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Composer } from './Composer';

function setup(channelId = 'c-' + Math.random()) {
  const onSend = vi.fn();
  const onTyping = vi.fn();
  render(<Composer channelId={channelId} placeholder="Message #general" onSend={onSend} onTyping={onTyping} />);
  return { onSend, onTyping, box: screen.getByTestId('composer-input') as HTMLTextAreaElement };
}

describe('Composer', () => {
  it('is labelled', () => {
    setup();
    expect(screen.getByRole('textbox', { name: 'Message #general' })).toBeTruthy();
  });

  it('Enter sends and clears; Shift+Enter adds a new line', async () => {
    const user = userEvent.setup();
    const { onSend, box } = setup();
    await user.type(box, 'first line{Shift>}{Enter}{/Shift}second line');
    expect(box.value).toBe('first line\nsecond line');
    expect(onSend).not.toHaveBeenCalled();
    await user.type(box, '{Enter}');
    expect(onSend).toHaveBeenCalledWith('first line\nsecond line');
    expect(box.value).toBe('');
  });

  it('does not send blank messages', async () => {
    const user = userEvent.setup();
    const { onSend, box } = setup();
    await user.type(box, '   {Enter}');
    expect(onSend).not.toHaveBeenCalled();
  });

  it('emits typing:start once while typing quickly and typing:stop on send', async () => {
    const user = userEvent.setup();
    const { onTyping, box } = setup();
    await user.type(box, 'hello');
    expect(onTyping.mock.calls.map((c) => c[0])).toEqual(['typing:start']);
    await user.type(box, '{Enter}');
    expect(onTyping.mock.calls.map((c) => c[0])).toEqual(['typing:start', 'typing:stop']);
  });

  it('emits typing:stop when the draft is cleared', async () => {
    const user = userEvent.setup();
    const { onTyping, box } = setup();
    await user.type(box, 'ab');
    await user.clear(box);
    expect(onTyping.mock.calls.map((c) => c[0])).toEqual(['typing:start', 'typing:stop']);
  });

  it('Esc keeps the draft and asks to mark the channel read', async () => {
    const user = userEvent.setup();
    const onEscape = vi.fn();
    render(<Composer channelId="c-esc" placeholder="Message #general" onSend={vi.fn()} onTyping={vi.fn()} onEscape={onEscape} />);
    const box = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    await user.type(box, 'half a thought{Escape}');
    expect(box.value).toBe('half a thought');
    expect(onEscape).toHaveBeenCalledTimes(1);
  });

  it('the send button works too', async () => {
    const user = userEvent.setup();
    const { onSend, box } = setup();
    await user.type(box, 'via button');
    await user.click(screen.getByRole('button', { name: 'Send message' }));
    expect(onSend).toHaveBeenCalledWith('via button');
  });

  it('the draft survives a reload (a new Composer) per user and channel, and is cleared by sending', async () => {
    const user = userEvent.setup();
    const props = { placeholder: 'Message #general', onSend: vi.fn(), onTyping: vi.fn() };
    const first = render(<Composer channelId="c-reload" userId="u1" {...props} />);
    await user.type(screen.getByTestId('composer-input'), 'unfinished');
    first.unmount(); // the page goes away
    const second = render(<Composer channelId="c-reload" userId="u1" {...props} />);
    const box = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    expect(box.value).toBe('unfinished');
    second.unmount();
    // Another user in the same browser does not see it.
    const other = render(<Composer channelId="c-reload" userId="u2" {...props} />);
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).value).toBe('');
    other.unmount();
    render(<Composer channelId="c-reload" userId="u1" {...props} />);
    await user.type(screen.getByTestId('composer-input'), '{Enter}');
    expect(props.onSend).toHaveBeenCalledWith('unfinished');
    expect(localStorage.getItem('parley.draft.u1.c-reload')).toBeNull();
  });
});
