import type { Server } from '../api/types';
import { initials } from './ui';

/** A server's icon image, or its initials when it has none. Decorative: the caller names the server. */
export function ServerIcon({ server }: { server: Pick<Server, 'name' | 'iconUrl'> }) {
  if (server.iconUrl) {
    return <img className="server-icon-img" src={server.iconUrl} alt="" width={48} height={48} aria-hidden="true" data-testid="server-icon" />;
  }
  return <span aria-hidden="true">{initials(server.name)}</span>;
}
