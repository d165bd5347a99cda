// The files of an encrypted DM message (part of the lazy E2EE chunk): each blob is fetched, decrypted here with the
// key from the MLS message (e2ee/files.ts) and shown with the same previews as a plain file, from an object URL
// (revoked when the message leaves the screen). An image's box is sized from the dimensions in the message before
// anything loads. A blob that does not authenticate (tampered, or the wrong key) says so instead.
import { useEffect, useState } from 'react';
import type { Attachment } from '../api/types';
import { useServices } from '../app/services';
import { decryptBytes, type SealedFile } from '../e2ee/files';
import { Attachments, fit } from './Attachments';

type Shown = { kind: 'loading' } | { kind: 'ready'; a: Attachment } | { kind: 'failed'; reason: string };

const SNIPPET_LINES = 12;
const SNIPPET_BYTES = 2048;

/** The first lines of a text file, as the server makes them for plain files; undefined for anything else. */
function snippetOf(f: SealedFile, bytes: Uint8Array): string | undefined {
  const textual = f.type.startsWith('text/') ? f.type !== 'text/html' : f.type === 'application/json' || f.type === '';
  if (!textual) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, SNIPPET_BYTES), { stream: true });
  } catch {
    return undefined;
  }
  if (text.includes('\u0000')) return undefined;
  return text.split('\n').slice(0, SNIPPET_LINES).join('\n').replace(/\n+$/, '') || undefined;
}

export function EncryptedFiles({ files }: { files: SealedFile[] }) {
  const { auth } = useServices();
  // By attachment id: what each file shows once fetched and decrypted (absent: still loading).
  const [done, setDone] = useState<Record<string, Shown>>({});
  const key = files.map((f) => f.id).join(',');
  useEffect(() => {
    let live = true;
    const urls: string[] = [];
    files.forEach((f) => {
      void (async (): Promise<Shown> => {
        try {
          const token = await auth.getAccessToken();
          const res = await fetch(f.url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, credentials: 'same-origin' });
          if (!res.ok) return { kind: 'failed', reason: res.status === 404 ? 'This file is gone.' : 'Could not load this file.' };
          const plain = await decryptBytes(await res.arrayBuffer(), f.key, f.iv);
          if (!live) return { kind: 'loading' };
          const url = URL.createObjectURL(new Blob([plain as BlobPart], { type: f.type }));
          urls.push(url);
          const image = f.type.startsWith('image/') && f.type !== 'image/svg+xml';
          return {
            kind: 'ready',
            a: { id: f.id, name: f.name, contentType: f.type, size: f.size, width: f.width, height: f.height, url, previewUrl: image ? url : undefined, snippet: snippetOf(f, plain) },
          };
        } catch (e) {
          return { kind: 'failed', reason: e instanceof Error && e.message.startsWith('Could not decrypt') ? e.message : 'Could not load this file.' };
        }
      })().then((s) => {
        if (live) setDone((prev) => ({ ...prev, [f.id]: s }));
      });
    });
    return () => {
      live = false;
      for (const u of urls) URL.revokeObjectURL(u);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the files are named by their ids
  }, [key, auth]);

  const shown = files.map((f): Shown => done[f.id] ?? { kind: 'loading' });
  const ready = shown.flatMap((s) => (s.kind === 'ready' ? [s.a] : []));
  return (
    <>
      {ready.length > 0 && <Attachments items={ready} />}
      {files.map((f, i) => {
        const s = shown[i];
        if (!s || s.kind === 'ready') return null;
        if (s.kind === 'failed') {
          return (
            <div key={f.id} className="attachment-card e2ee-file-failed" role="alert" data-testid="e2ee-file-undecryptable" data-name={f.name}>
              🔒 {f.name}: {s.reason === 'Could not decrypt this file.' ? 'could not decrypt this file (it was changed or damaged).' : s.reason}
            </div>
          );
        }
        const box = f.type.startsWith('image/') ? fit(f.width, f.height) : undefined;
        return (
          <div key={f.id} className="attachment-card e2ee-file-loading muted" style={box} aria-busy="true" data-testid="e2ee-file-loading">
            Decrypting {f.name}…
          </div>
        );
      })}
    </>
  );
}
