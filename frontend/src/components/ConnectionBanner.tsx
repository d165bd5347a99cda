import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '../api/socket';
import { useConnectionStatus } from '../realtime/RealtimeProvider';

function useOnline() {
  const [online, setOnline] = useState(() => (typeof navigator === 'undefined' ? true : navigator.onLine !== false));
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return online;
}

export function bannerText(status: ConnectionStatus, online: boolean): string | null {
  if (status === 'connected') return null;
  if (!online) return "You're offline. Messages will be sent when you're back online.";
  if (status === 'connecting') return 'Connecting…';
  if (status === 'reconnecting') return 'Connection lost. Reconnecting…';
  return 'Disconnected.';
}

/**
 * The live region always exists (so screen readers announce changes) and is empty, with no size, while connected;
 * the visible banner inside it appears only while disconnected or reconnecting.
 */
export function ConnectionBanner() {
  const status = useConnectionStatus();
  const online = useOnline();
  const text = bannerText(status, online);
  return (
    <div className="connection-region" role="status" aria-live="polite" data-testid="connection-banner" data-state={status}>
      {text && (
        <div className="connection-banner">
          <span className="banner-spinner" aria-hidden="true" />
          {text}
        </div>
      )}
    </div>
  );
}
