import { screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encryptBytes, type SealedFile } from '../e2ee/files';
import { loggedIn, renderWithServices } from '../test/render';
import { EncryptedFiles } from './E2EEFiles';

const text = new TextEncoder().encode('first line\nsecond line\n');

/** A fetch answer with these bytes: a plain object, and the ciphertext's own buffer (made by WebCrypto), since Node's WebCrypto refuses jsdom's ArrayBuffers and Response does not take jsdom's typed arrays. */
const answer = (body: Uint8Array, status = 200) => ({ ok: status < 300, status, arrayBuffer: async () => body.buffer });

async function sealed(id: string, name: string, type: string, plain: Uint8Array, tamper = false): Promise<{ file: SealedFile; body: Uint8Array }> {
  const { ciphertext, key, iv } = await encryptBytes(plain.slice());
  if (tamper) ciphertext[3] ^= 0x40;
  return { file: { id, url: `/files/${id}/encrypted.bin`, key, iv, name, type, size: plain.length }, body: ciphertext };
}

describe('EncryptedFiles', () => {
  const created: string[] = [];
  const revoked: string[] = [];
  beforeEach(() => {
    loggedIn();
    let n = 0;
    URL.createObjectURL = vi.fn(() => {
      const u = `blob:test/${++n}`;
      created.push(u);
      return u;
    });
    URL.revokeObjectURL = vi.fn((u: string) => void revoked.push(u));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    created.length = 0;
    revoked.length = 0;
  });

  it('fetches each blob with the token, decrypts it and shows the usual preview; revokes its object URL on unmount', async () => {
    const ok = await sealed('1', 'notes.txt', 'text/plain', text);
    const fetchMock = vi.fn(async () => answer(ok.body));
    vi.stubGlobal('fetch', fetchMock);
    const { unmount } = renderWithServices(<EncryptedFiles files={[ok.file]} />);
    expect(screen.getByTestId('e2ee-file-loading').textContent).toContain('Decrypting notes.txt');
    expect((await screen.findByTestId('attachment-snippet')).textContent).toContain('first line');
    expect(screen.getByTestId('attachment-download').getAttribute('href')).toBe('blob:test/1'); // no ?download=1 on a blob: URL
    expect(screen.getByTestId('attachment-download').getAttribute('download')).toBe('notes.txt');
    const call = (fetchMock.mock.calls as unknown as [string, RequestInit][]).find(([u]) => u === '/files/1/encrypted.bin');
    const init = call![1];
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer a');
    unmount();
    expect(revoked).toEqual(created);
  });

  it('says a tampered blob could not be decrypted, and shows nothing of it', async () => {
    const bad = await sealed('2', 'photo.png', 'image/png', text, true);
    vi.stubGlobal('fetch', vi.fn(async () => answer(bad.body)));
    renderWithServices(<EncryptedFiles files={[bad.file]} />);
    expect((await screen.findByTestId('e2ee-file-undecryptable')).textContent).toContain('photo.png: could not decrypt this file');
    expect(screen.queryByTestId('attachment')).toBeNull();
    expect(created).toEqual([]);
  });

  it('says a file that is gone is gone', async () => {
    const ok = await sealed('3', 'a.bin', 'application/zip', text);
    vi.stubGlobal('fetch', vi.fn(async () => answer(new Uint8Array(0), 404)));
    renderWithServices(<EncryptedFiles files={[ok.file]} />);
    await waitFor(() => expect(screen.getByTestId('e2ee-file-undecryptable').textContent).toContain('This file is gone.'));
  });
});
