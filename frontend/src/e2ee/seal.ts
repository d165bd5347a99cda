// Sealing the sends and edits of an encrypted conversation (realtime.ts imports this on demand, for DMs the server
// marks encrypted or when it answers encryption_required): replaces the text with MLS ciphertext. It needs no UI:
// it makes this browser's E2EE client itself, so a browser that never opened the DM seals too (its device
// registers on the way and waits to be added by the others' sync; the outbox retries meanwhile). Files were
// encrypted and uploaded by the composer (e2ee/files.ts): their keys and metadata go into the MLS plaintext.
import type { SendMessagePayload } from '../api/types';
import { SendRefused } from '../chat/outbox';
import { clientFor, type Refusal } from './client';
import { encodeEnvelope, messageFiles, uploadedFile, type SealedFile } from './files';

export interface Sealer {
  userId: string;
  token: () => Promise<string | null>;
}

/** `refused`: the server refused this nonce's last ciphertext (the key service's policy): seal it anew. */
export async function seal(p: SendMessagePayload, who: Sealer, refused?: Refusal): Promise<SendMessagePayload> {
  const files: SealedFile[] = [];
  for (const id of p.attachments ?? []) {
    const f = uploadedFile(id);
    // Uploaded in clear before the DM was encrypted, or this page was reloaded and lost the key: never sent so.
    if (!f) throw new SendRefused('This file was not encrypted on this device: remove it and attach it again.');
    files.push(f);
  }
  const content = await clientFor(who.userId, who.token).seal(p.channelId, p.nonce, encodeEnvelope(p.content, files), refused);
  return {
    channelId: p.channelId,
    nonce: p.nonce,
    content,
    encrypted: true,
    ...(p.replyTo ? { replyTo: p.replyTo } : {}),
    ...(files.length ? { attachments: files.map((f) => f.id) } : {}),
  };
}

/** New ciphertext for an edit (each edit is a new MLS message); the message's files (keys) go with the new text. */
export function sealEdit(channelId: string, text: string, who: Sealer, messageId?: string): Promise<string> {
  const files = (messageId && messageFiles(messageId)) || [];
  return clientFor(who.userId, who.token).sealEdit(channelId, encodeEnvelope(text, files));
}
