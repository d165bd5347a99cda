// What this browser could read of end-to-end encrypted DM messages, for the parts of the chat screen outside the
// lazy E2EE chunk (reply quotes, the edit box, notifications, pins): the E2EE client (e2ee/client.ts) writes every
// text it decrypts or seals here, keyed by the ciphertext, so an edit (new ciphertext) is never shown with the old
// text. Nothing here is stored: the sealed vault of the E2EE part is the durable copy. The server only ever has
// ciphertext, so these surfaces show ENCRYPTED_LABEL when this browser has no text, never the base64.

/** What stands for an encrypted message this browser cannot (yet) read. */
export const ENCRYPTED_LABEL = 'Encrypted message';

const texts = new Map<string, string>();
const listeners = new Set<() => void>();
let version = 0;

/** The ciphertext's last 24 base64 characters: its AEAD tag, different for every encryption. */
export const ciphertextKey = (content: string) => content.slice(-24);

export function setPlaintext(ciphertext: string, text: string) {
  const k = ciphertextKey(ciphertext);
  if (texts.get(k) === text) return;
  texts.set(k, text);
  version++;
  for (const f of listeners) f();
}

/** Forgets every text (this browser was removed from its user's devices: what it read is no longer shown). */
export function clearPlaintexts() {
  if (texts.size === 0) return
  texts.clear()
  version++
  for (const f of listeners) f()
}

/** The text of a message: itself when not encrypted, else what this browser decrypted or sealed, or undefined. */
export function plaintextOf(m: { content: string; encrypted?: boolean }): string | undefined {
  return m.encrypted ? texts.get(ciphertextKey(m.content)) : m.content;
}

/** The text to show outside the message list: the plaintext, or ENCRYPTED_LABEL. */
export function shownText(m: { content: string; encrypted?: boolean }): string {
  return plaintextOf(m) ?? ENCRYPTED_LABEL;
}

export function subscribePlaintexts(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export const plaintextsVersion = () => version;
