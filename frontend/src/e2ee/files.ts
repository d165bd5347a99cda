// Files in end-to-end encrypted DMs (README "End-to-end encrypted DMs"): each file is encrypted here with WebCrypto
// AES-256-GCM under a fresh random key and 96-bit IV, and the ciphertext is uploaded as an opaque blob
// (encrypted=1: the server keeps it as encrypted.bin, no preview). The key, IV and what the server must not learn
// (real name, type, size, image dimensions) travel inside the MLS message, as an envelope around its text. Loaded
// only with the encrypted-DM parts (seal.ts, E2EE.tsx), never with the chat screen.
import { uploadFile, type UploadOptions } from '../api/uploads';
import type { Attachment } from '../api/types';

/** What a message says about one of its files (inside the MLS ciphertext). */
export interface SealedFile {
  /** The opaque upload's attachment id and download URL (/files/:id/encrypted.bin). */
  id: string;
  url: string;
  /** AES-256-GCM key and IV, base64. */
  key: string;
  iv: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
}

/** An MLS plaintext that carries files starts with this (a NUL: no typed text does). */
const PREFIX = '\u0000parley-files:';

const b64 = (b: Uint8Array) => {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
};
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** The plaintext of a message with files: its text and the files' keys and metadata. */
export function encodeEnvelope(text: string, files: SealedFile[]): string {
  return files.length ? PREFIX + JSON.stringify({ text, files }) : text;
}

/** A message's plaintext taken apart; plain text (every message without files) is returned as it is. */
export function decodeEnvelope(plaintext: string): { text: string; files: SealedFile[] } {
  if (!plaintext.startsWith(PREFIX)) return { text: plaintext, files: [] };
  try {
    const v = JSON.parse(plaintext.slice(PREFIX.length)) as { text?: unknown; files?: unknown };
    const files = Array.isArray(v.files) ? (v.files as SealedFile[]).filter(validFile) : [];
    return { text: typeof v.text === 'string' ? v.text : '', files };
  } catch {
    return { text: '', files: [] };
  }
}

/** Only the text of a plaintext (reply quotes, the edit box, notifications). */
export const envelopeText = (plaintext: string) => decodeEnvelope(plaintext).text;

function validFile(f: SealedFile): boolean {
  return (
    !!f &&
    typeof f.id === 'string' &&
    typeof f.url === 'string' &&
    f.url.startsWith('/files/') &&
    typeof f.key === 'string' &&
    typeof f.iv === 'string' &&
    typeof f.name === 'string' &&
    typeof f.type === 'string' &&
    typeof f.size === 'number'
  );
}

/** Encrypts bytes under a fresh AES-256-GCM key and IV. */
export async function encryptBytes(plain: BufferSource): Promise<{ ciphertext: Uint8Array<ArrayBuffer>; key: string; iv: string }> {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain));
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
  return { ciphertext, key: b64(raw), iv: b64(iv) };
}

/** Thrown for a file whose ciphertext does not authenticate under its key (tampered, truncated, wrong key). */
export class FileDecryptError extends Error {
  constructor() {
    super('Could not decrypt this file.');
  }
}

/** Decrypts what encryptBytes made; FileDecryptError when the AES-GCM tag does not match. */
export async function decryptBytes(ciphertext: BufferSource, key: string, iv: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const k = await crypto.subtle.importKey('raw', unb64(key), { name: 'AES-GCM' }, false, ['decrypt']);
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(iv) }, k, ciphertext));
  } catch {
    throw new FileDecryptError();
  }
}

// The keys of this page's uploads until their message is sealed (seal.ts), and the files of the messages this page
// read (an edit re-seals its files with the new text). In memory only: a reload before sending asks to attach again.
const uploaded = new Map<string, SealedFile>();
const ofMessage = new Map<string, SealedFile[]>();

export const uploadedFile = (attachmentId: string) => uploaded.get(attachmentId);
export function rememberMessageFiles(messageId: string, files: SealedFile[]) {
  if (files.length) ofMessage.set(messageId, files);
}
export const messageFiles = (messageId: string) => ofMessage.get(messageId);
/** A removed browser forgets what it could read (e2ee/client.ts forget()). */
export function forgetFiles() {
  uploaded.clear();
  ofMessage.clear();
}

async function imageSize(file: File): Promise<{ width?: number; height?: number }> {
  if (!file.type.startsWith('image/') || typeof createImageBitmap !== 'function') return {};
  try {
    const bmp = await createImageBitmap(file);
    const size = { width: bmp.width, height: bmp.height };
    bmp.close();
    return size;
  } catch {
    return {}; // not an image the browser can decode: shown as a file card
  }
}

/**
 * The composer's uploader in an encrypted DM: encrypts the file, uploads the ciphertext as encrypted.bin and
 * keeps the key for seal(). Resolves to the attachment as this browser shows it (real name, type, size).
 */
export async function uploadEncrypted(opts: UploadOptions): Promise<Attachment> {
  const { file } = opts;
  const [plain, dims] = await Promise.all([file.arrayBuffer(), imageSize(file)]);
  const { ciphertext, key, iv } = await encryptBytes(plain);
  const blob = new File([ciphertext as BlobPart], 'encrypted.bin', { type: 'application/octet-stream' });
  const a = await uploadFile({ ...opts, file: blob, encrypted: true });
  const sealed: SealedFile = { id: a.id, url: a.url, key, iv, name: file.name || 'file', type: file.type || 'application/octet-stream', size: file.size, ...dims };
  uploaded.set(a.id, sealed);
  return { ...a, name: sealed.name, contentType: sealed.type, size: sealed.size, width: dims.width, height: dims.height };
}
