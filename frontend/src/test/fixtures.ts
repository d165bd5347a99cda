import type { Message } from '../api/types';

let seq = 0;
export function msg(id: string, over: Partial<Message> = {}): Message {
  seq++;
  return {
    id,
    channelId: 'c1',
    senderId: 'u1',
    content: `message ${id}`,
    timestamp: new Date(Date.UTC(2026, 10, 24, 7, 0, 0) + Number(id.slice(-6)) * 1000).toISOString(),
    nonce: `n-${id}-${seq}`,
    ...over,
  };
}
