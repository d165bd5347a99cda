import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { useServices, useSession } from '../app/services';
import type { Id, Presence } from '../api/types';
import type { ConnectionStatus, SocketFactory } from '../api/socket';
import type { ChannelMessages } from '../chat/messageStore';
import type { ChannelReceipts } from '../chat/receipts';
import { typingUserIds } from '../chat/typing';
import { Realtime } from './realtime';

const RealtimeContext = createContext<Realtime | null>(null);

export function RealtimeProvider({ children, socketFactory }: { children: ReactNode; socketFactory?: SocketFactory }) {
  const services = useServices();
  const session = useSession();
  const meId = session?.user.id ?? null;
  const [rt, setRt] = useState<Realtime | null>(null);

  useEffect(() => {
    if (!meId) return;
    const r = new Realtime({ ...services, meId, socketFactory });
    r.start();
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the Realtime instance is an external resource made and torn down with this effect (StrictMode runs it twice); state hands it to the tree
    setRt(r);
    const online = () => r.sockets.kick();
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('online', online);
      r.stop();
      setRt(null);
    };
  }, [meId, services, socketFactory]);

  if (!rt || rt.meId !== meId) return null;
  return <RealtimeContext.Provider value={rt}>{children}</RealtimeContext.Provider>;
}

export function useRealtime(): Realtime {
  const r = useContext(RealtimeContext);
  if (!r) throw new Error('RealtimeProvider missing');
  return r;
}

export function useConnectionStatus(): ConnectionStatus {
  const r = useRealtime();
  return useSyncExternalStore(r.sockets.subscribe, r.sockets.getStatus);
}

export function useChannelMessages(channelId: Id): ChannelMessages | undefined {
  const r = useRealtime();
  return useSyncExternalStore(r.chat.subscribe, () => r.chat.getChannel(channelId));
}

export function useReceipts(channelId: Id): ChannelReceipts {
  const r = useRealtime();
  return useSyncExternalStore(r.chat.subscribe, () => r.chat.getReceipts(channelId));
}

export function useTypingUsers(channelId: Id): Id[] {
  const r = useRealtime();
  const typing = useSyncExternalStore(r.typing.subscribe, r.typing.getTyping);
  // eslint-disable-next-line react-hooks/purity -- only hides entries already expired; the store prunes them on a timer and re-renders us
  const ids = typingUserIds(typing, channelId, Date.now(), r.meId);
  return ids;
}

export function usePresence(userId: Id | undefined): Presence | undefined {
  const r = useRealtime();
  useEffect(() => {
    if (userId) r.presence.want([userId]);
  }, [r, userId]);
  return useSyncExternalStore(r.presence.subscribe, () => (userId ? r.presence.get(userId) : undefined));
}
