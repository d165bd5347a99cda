import { render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { chunk, part, PartPlaceholder } from './lazy';

function Hello({ name }: { name: string }) {
  return <p>Hello {name}</p>;
}

describe('lazy parts of the chat screen', () => {
  it('shows its placeholder while the chunk loads, then the part', async () => {
    let arrive!: (m: { Hello: typeof Hello }) => void;
    const Part = part(() => new Promise<{ Hello: typeof Hello }>((r) => (arrive = r)), 'Hello', <PartPlaceholder className="member-list" />);
    render(<Part name="Ada" />);
    expect(screen.getByTestId('part-loading').className).toContain('member-list');
    arrive({ Hello });
    expect(await screen.findByText('Hello Ada')).toBeTruthy();
    expect(screen.queryByTestId('part-loading')).toBeNull();
  });

  it('a part whose chunk is already here (prefetched) draws in the first render, with no placeholder', async () => {
    const load = chunk(() => Promise.resolve({ Hello }));
    const Part = part(load, 'Hello', <PartPlaceholder className="member-list" />);
    await load();
    render(<Part name="Ada" />);
    expect(screen.getByText('Hello Ada')).toBeTruthy();
    expect(screen.queryByTestId('part-loading')).toBeNull();
  });

  it('a quiet part whose chunk cannot be downloaded draws nothing (no alert per message); the rest stays', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // React logs the caught error
    const failing = () => Promise.reject<{ Hello: typeof Hello }>(new TypeError('Failed to fetch dynamically imported module'));
    const Quiet = part(failing, 'Hello', null, true);
    const Loud = part(failing, 'Hello');
    render(
      <div>
        <p>Messages stay</p>
        <Quiet name="Ada" />
        <Quiet name="Bob" />
        <Loud name="Cy" />
      </div>,
    );
    // The loud one's prompt shows that the failure has been rendered; the quiet ones add none.
    await screen.findByTestId('part-error');
    expect(screen.getAllByTestId('part-error')).toHaveLength(1);
    expect(screen.getByText('Messages stay')).toBeTruthy();
  });

  it('a chunk that cannot be downloaded (deploy while the page is open) says so in its place, with a reload button; the rest stays', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // React logs the caught error
    const reload = vi.fn();
    vi.stubGlobal('location', { ...window.location, reload });
    const Part = part(() => Promise.reject<{ Hello: typeof Hello }>(new TypeError('Failed to fetch dynamically imported module')), 'Hello');
    render(
      <div>
        <p>Messages stay</p>
        <Part name="Ada" />
      </div>,
    );
    const alert = await screen.findByTestId('part-error');
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toMatch(/could not be loaded/);
    expect(screen.getByText('Messages stay')).toBeTruthy();
    screen.getByRole('button', { name: 'Reload' }).click();
    expect(reload).toHaveBeenCalledTimes(1);
    vi.unstubAllGlobals();
  });
});
