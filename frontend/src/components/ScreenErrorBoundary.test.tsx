import { render, screen } from '@testing-library/react';
import { lazy, Suspense } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { ScreenErrorBoundary } from './ScreenErrorBoundary';

describe('ScreenErrorBoundary', () => {
  it('a screen whose chunk cannot be downloaded shows a message with "Try again", not a blank page', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // React reports the caught error
    const Broken = lazy(() => Promise.reject(new TypeError('Failed to fetch dynamically imported module')));
    render(
      <ScreenErrorBoundary>
        <Suspense fallback={null}>
          <Broken />
        </Suspense>
      </ScreenErrorBoundary>,
    );
    const alert = await screen.findByTestId('screen-error');
    expect(alert.textContent).toMatch(/could not open this screen/);
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  it('renders its children when nothing fails', () => {
    render(
      <ScreenErrorBoundary>
        <p>fine</p>
      </ScreenErrorBoundary>,
    );
    expect(screen.getByText('fine')).toBeTruthy();
    expect(screen.queryByTestId('screen-error')).toBeNull();
  });
});
