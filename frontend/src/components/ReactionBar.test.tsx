import { act, fireEvent, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Reaction } from '../api/types';
import { loggedIn, renderWithServices } from '../test/render';
import { loadParts } from './lazy';
import { ReactionBar } from './ReactionBar';

const reactions: Reaction[] = [
  { emoji: '👍', count: 2, me: true, userIds: ['u1', 'me'] },
  { emoji: '🎉', count: 1, me: false, userIds: ['u1'] },
];

function renderBar(list: Reaction[] | undefined = reactions) {
  loggedIn('me');
  const onToggle = vi.fn();
  const onAdd = vi.fn();
  const out = renderWithServices(<ReactionBar reactions={list} onToggle={onToggle} onAdd={onAdd} />);
  out.services.queryClient.setQueryData(['user', 'u1'], { id: 'u1', username: 'ann', displayName: 'Ann', avatarUrl: '', createdAt: '' });
  return { onToggle, onAdd, ...out };
}

describe('ReactionBar', () => {
  // Who reacted is a lazy part: here from the first render, as after the prefetch that follows the first paint.
  beforeAll(() => loadParts('userNames'));

  it('renders nothing without reactions', () => {
    renderBar([]);
    expect(screen.queryByTestId('reaction-bar')).toBeNull();
  });

  it('shows emoji and counts, pressed when I reacted, and toggles on click', async () => {
    const { onToggle } = renderBar();
    const chips = screen.getAllByTestId('reaction');
    expect(chips.map((c) => [c.dataset.emoji, c.dataset.count, c.getAttribute('aria-pressed')])).toEqual([
      ['👍', '2', 'true'],
      ['🎉', '1', 'false'],
    ]);
    await userEvent.click(chips[0]);
    await userEvent.click(chips[1]);
    expect(onToggle.mock.calls).toEqual([
      ['👍', false],
      ['🎉', true],
    ]);
  });

  it('is reachable and usable with the keyboard, and names who reacted on focus', async () => {
    const { onToggle, onAdd } = renderBar();
    const user = userEvent.setup();
    await user.tab();
    const first = screen.getAllByTestId('reaction')[0];
    expect(document.activeElement).toBe(first);
    const tip = document.getElementById(first.getAttribute('aria-describedby')!)!;
    expect(tip.className).toContain('visible');
    expect(tip.textContent).toBe('Ann and You reacted with 👍');
    await user.keyboard('{Enter}');
    expect(onToggle).toHaveBeenCalledWith('👍', false);
    await user.tab();
    await user.keyboard(' ');
    expect(onToggle).toHaveBeenLastCalledWith('🎉', true);
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId('reaction-bar-add'));
    await user.keyboard('{Enter}');
    expect(onAdd).toHaveBeenCalledWith(screen.getByTestId('reaction-bar-add'));
  });

  it('shows who reacted on hover', async () => {
    renderBar();
    const tips = screen.getAllByTestId('reaction-tooltip');
    expect(tips[1].className).not.toContain('visible');
    await userEvent.hover(screen.getAllByTestId('reaction')[1]);
    expect(tips[1].className).toContain('visible');
    expect(tips[1].textContent).toBe('Ann reacted with 🎉');
    await userEvent.unhover(screen.getAllByTestId('reaction')[1]);
    expect(tips[1].className).not.toContain('visible');
  });

  it('a long press on a touch screen shows who reacted instead of toggling', () => {
    vi.useFakeTimers();
    try {
      const { onToggle } = renderBar();
      const chip = screen.getAllByTestId('reaction')[1];
      const tip = screen.getAllByTestId('reaction-tooltip')[1];
      fireEvent.pointerDown(chip, { pointerType: 'touch' });
      act(() => vi.advanceTimersByTime(600));
      fireEvent.pointerUp(chip, { pointerType: 'touch' });
      fireEvent.click(chip);
      expect(tip.className).toContain('visible');
      expect(onToggle).not.toHaveBeenCalled();
      // A short tap toggles.
      fireEvent.pointerDown(chip, { pointerType: 'touch' });
      act(() => vi.advanceTimersByTime(100));
      fireEvent.pointerUp(chip, { pointerType: 'touch' });
      fireEvent.click(chip);
      expect(onToggle).toHaveBeenCalledWith('🎉', true);
    } finally {
      vi.useRealTimers();
    }
  });
});
