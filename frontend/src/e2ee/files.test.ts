import { describe, expect, it } from 'vitest';
import { decodeEnvelope, decryptBytes, encodeEnvelope, encryptBytes, envelopeText, FileDecryptError, forgetFiles, messageFiles, rememberMessageFiles, type SealedFile } from './files';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('file encryption (AES-256-GCM, WebCrypto)', () => {
  it('round-trips, with a fresh key and IV per file', async () => {
    const plain = bytes('line one\nline two\n');
    const a = await encryptBytes(plain);
    const b = await encryptBytes(plain);
    expect(atob(a.key)).toHaveLength(32);
    expect(atob(a.iv)).toHaveLength(12);
    expect(a.key).not.toBe(b.key);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).toHaveLength(plain.length + 16); // the GCM tag: the server allows the limit + 16
    expect(String.fromCharCode(...a.ciphertext)).not.toContain('line one');
    expect(Array.from(await decryptBytes(a.ciphertext, a.key, a.iv))).toEqual(Array.from(plain));
  });

  it('rejects a tampered ciphertext', async () => {
    const a = await encryptBytes(bytes('the real bytes'));
    for (const i of [0, a.ciphertext.length - 1]) {
      const t = a.ciphertext.slice();
      t[i] ^= 1;
      await expect(decryptBytes(t, a.key, a.iv)).rejects.toBeInstanceOf(FileDecryptError);
    }
    await expect(decryptBytes(a.ciphertext.slice(0, -1), a.key, a.iv)).rejects.toThrow('Could not decrypt this file.');
  });

  it('rejects the wrong key or IV', async () => {
    const a = await encryptBytes(bytes('the real bytes'));
    const other = await encryptBytes(bytes('x'));
    await expect(decryptBytes(a.ciphertext, other.key, a.iv)).rejects.toBeInstanceOf(FileDecryptError);
    await expect(decryptBytes(a.ciphertext, a.key, other.iv)).rejects.toBeInstanceOf(FileDecryptError);
    await expect(decryptBytes(a.ciphertext, 'not base64!', a.iv)).rejects.toBeInstanceOf(FileDecryptError);
  });
});

describe('the envelope in the MLS plaintext', () => {
  const file: SealedFile = { id: '12', url: '/files/12/encrypted.bin', key: 'k', iv: 'i', name: 'holiday.png', type: 'image/png', size: 1234, width: 640, height: 480 };

  it('leaves a message without files as plain text', () => {
    expect(encodeEnvelope('hello', [])).toBe('hello');
    expect(decodeEnvelope('hello')).toEqual({ text: 'hello', files: [] });
    expect(envelopeText('{"text":"not an envelope"}')).toBe('{"text":"not an envelope"}');
  });

  it('carries the text and each file (key, iv, name, type, size, dimensions)', () => {
    const pt = encodeEnvelope('look', [file]);
    expect(pt).not.toBe('look');
    expect(decodeEnvelope(pt)).toEqual({ text: 'look', files: [file] });
    expect(envelopeText(pt)).toBe('look');
    expect(envelopeText(encodeEnvelope('', [file]))).toBe('');
  });

  it('keeps the files of read messages (for edits) until the browser is removed', () => {
    rememberMessageFiles('m1', [file]);
    rememberMessageFiles('m2', []);
    expect(messageFiles('m1')).toEqual([file]);
    expect(messageFiles('m2')).toBeUndefined();
    forgetFiles();
    expect(messageFiles('m1')).toBeUndefined();
  });

  it('drops what is not a file it can fetch (a URL off /files/, a missing key), and survives garbage', () => {
    const pt = encodeEnvelope('x', [file, { ...file, id: '13', url: 'https://evil.example/x' }, { ...file, id: '14', key: undefined as unknown as string }]);
    expect(decodeEnvelope(pt).files.map((f) => f.id)).toEqual(['12']);
    expect(decodeEnvelope('\u0000parley-files:{broken')).toEqual({ text: '', files: [] });
  });
});
