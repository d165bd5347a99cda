import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Composer, loadAutocomplete, type MentionSource } from './Composer';

// The autocomplete is a lazy chunk: load it first, so that the composer has it from its first render.
beforeAll(() => loadAutocomplete());

const source: MentionSource = {
  members: [
    { id: '1', username: 'alice.w', displayName: 'Alice Wonder' },
    { id: '2', username: 'albert', displayName: 'Al' },
    { id: '3', username: 'bob', displayName: 'Bob' },
  ],
  channels: [
    { id: '10', name: 'general' },
    { id: '11', name: 'gaming' },
  ],
  allowEveryone: false,
};

function setup(src: MentionSource | null = source) {
  const onSend = vi.fn();
  const onEscape = vi.fn();
  render(
    <Composer
      channelId={'c-' + Math.random()}
      placeholder="Message #general"
      onSend={onSend}
      onTyping={() => undefined}
      onEscape={onEscape}
      mentionSource={src ?? undefined}
    />,
  );
  return { onSend, onEscape, box: screen.getByTestId('composer-input') as HTMLTextAreaElement, user: userEvent.setup() };
}

const options = () => screen.queryAllByRole('option').map((o) => o.getAttribute('data-value'));

describe('Composer: @ and # autocomplete', () => {
  it('@ + letters lists matching members (combobox + listbox + active descendant); Enter picks without sending', async () => {
    const { box, user, onSend } = setup();
    await user.type(box, 'hi @al');
    expect(options()).toEqual(['@albert', '@alice.w']);
    const combo = screen.getByRole('combobox', { name: 'Message #general' });
    expect(combo.getAttribute('aria-expanded')).toBe('true');
    const list = screen.getByRole('listbox', { name: 'Members' });
    expect(box.getAttribute('aria-controls')).toBe(list.id);
    const active = document.getElementById(box.getAttribute('aria-activedescendant')!)!;
    expect(active.getAttribute('aria-selected')).toBe('true');
    expect(active.getAttribute('data-value')).toBe('@albert');

    await user.keyboard('{ArrowDown}');
    expect(document.getElementById(box.getAttribute('aria-activedescendant')!)!.getAttribute('data-value')).toBe('@alice.w');
    await user.keyboard('{Enter}');
    expect(box.value).toBe('hi @alice.w ');
    expect(box.selectionStart).toBe(box.value.length);
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(combo.getAttribute('aria-expanded')).toBe('false');

    await user.keyboard('{Enter}');
    expect(onSend).toHaveBeenCalledWith('hi @alice.w ');
  });

  it('↑ wraps to the last option, Tab picks, display names match too', async () => {
    const { box, user } = setup();
    await user.type(box, '@wond');
    expect(options()).toEqual(['@alice.w']);
    await user.type(box, '{Backspace}{Backspace}{Backspace}{Backspace}');
    expect(options()).toEqual(['@albert', '@alice.w', '@bob']);
    await user.keyboard('{ArrowUp}{Tab}');
    expect(box.value).toBe('@bob ');
  });

  it('Esc closes the list without marking the channel read; it opens again for the next mention', async () => {
    const { box, user, onEscape } = setup();
    await user.type(box, '@bo');
    expect(options()).toEqual(['@bob']);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(onEscape).not.toHaveBeenCalled();
    await user.type(box, 'b');
    expect(screen.queryByRole('listbox')).toBeNull(); // same word: stays closed
    await user.type(box, ' @a');
    expect(options()).toEqual(['@albert', '@alice.w']);
    await user.keyboard('{Escape}{Escape}');
    expect(onEscape).toHaveBeenCalledTimes(1); // the second Esc is the composer's own
  });

  it('a click picks an option', async () => {
    const { box, user } = setup();
    await user.type(box, 'ping @Bo');
    expect(options()).toEqual(['@bob']);
    await user.hover(screen.getByRole('option', { name: /Bob/ }));
    await user.click(screen.getByRole('option', { name: /Bob/ }));
    expect(box.value).toBe('ping @bob ');
    expect(document.activeElement).toBe(box);
  });

  it('# + letters lists channels; @everyone is offered only when allowed', async () => {
    const { box, user } = setup({ ...source, allowEveryone: true });
    await user.type(box, 'see #ga');
    expect(screen.getByRole('listbox', { name: 'Channels' })).toBeTruthy();
    expect(options()).toEqual(['#gaming']);
    await user.keyboard('{Enter}');
    expect(box.value).toBe('see #gaming ');
    await user.type(box, '@ev');
    expect(options()).toEqual(['@everyone']);
  });

  it('no list for e-mail addresses, unmatched words, or without a mention source', async () => {
    const { box, user } = setup();
    await user.type(box, 'mail me@al or #zzz');
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(box.getAttribute('data-autocomplete')).toBe('closed');
  });

  it('without a source the composer stays a plain textbox', async () => {
    const { box, user } = setup(null);
    await user.type(box, '@al');
    expect(screen.queryByRole('combobox')).toBeNull();
    expect(screen.queryByRole('listbox')).toBeNull();
  });
});
