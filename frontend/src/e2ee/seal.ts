// Sealing the sends and edits of an encrypted conversation (realtime.ts imports this on demand, for DMs the server
// marks encrypted or when it answers encryption_required): replaces the text with MLS ciphertext. It needs no UI:
// it makes this browser's E2EE client itself, so a browser that never opened the DM seals too (its device
// registers on the way and waits to be added by the others' sync; the outbox retries meanwhile). Files are
// refused for good: they would be stored in the clear.
import type { SendMessagePayload } from '../api/types';
import { SendRefused } from '../chat/outbox';
import { clientFor, type Refusal } from './client';

export interface Sealer {
  userId: string;
  token: () => Promise<string | null>;
}

/** `refused`: the server refused this nonce's last ciphertext (the key service's policy): seal it anew. */
export async function seal(p: SendMessagePayload, who: Sealer, refused?: Refusal): Promise<SendMessagePayload> {
  if (p.attachments?.length) throw new SendRefused('Files cannot be sent in an end-to-end encrypted conversation yet.');
  const content = await clientFor(who.userId, who.token).seal(p.channelId, p.nonce, p.content, refused);
  return { channelId: p.channelId, nonce: p.nonce, content, encrypted: true, ...(p.replyTo ? { replyTo: p.replyTo } : {}) };
}

/** New ciphertext for an edit (each edit is a new MLS message). */
export function sealEdit(channelId: string, text: string, who: Sealer): Promise<string> {
  return clientFor(who.userId, who.token).sealEdit(channelId, text);
}
