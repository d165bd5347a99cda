import { Component, type ReactNode } from 'react';

/**
 * Screens arrive as lazy chunks; if one cannot be downloaded (offline, a deploy replaced the files), say so with a
 * way to try again instead of leaving a blank page. Everything else that throws lands here too.
 */
export class ScreenErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <main className="auth-page">
        <div className="auth-card center" role="alert" data-testid="screen-error">
          <h1>Parley could not open this screen</h1>
          <p className="muted">Check your connection, then try again.</p>
          <button type="button" className="button primary wide" onClick={() => window.location.reload()}>
            Try again
          </button>
        </div>
      </main>
    );
  }
}
