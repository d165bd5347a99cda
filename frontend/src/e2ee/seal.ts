// Sealing a send of an encrypted conversation (realtime.ts imports this on demand, for channels marked encrypted
// in localStorage): waits for the encrypted-DM UI's client, then replaces the text with MLS ciphertext. Attachments
// and replies are refused in encrypted conversations for now (their files and quotes would be in the clear).
import type { SendMessagePayload } from '../api/types';
import { currentClient } from './client';

export async function seal(p: SendMessagePayload): Promise<SendMessagePayload> {
  let client = currentClient();
  for (let i = 0; !client && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    client = currentClient();
  }
  if (!client) throw new Error('encryption is not ready yet'); // the outbox retries
  if (p.attachments?.length) throw new Error('files cannot be sent in an encrypted conversation yet');
  const content = await client.seal(p.channelId, p.nonce, p.content);
  return { channelId: p.channelId, nonce: p.nonce, content, encrypted: true };
}
