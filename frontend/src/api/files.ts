// Files: the files cookie that lets <img>/<video> elements load attachments (they cannot send an Authorization
// header), size formatting and previews. Uploads are in api/uploads.ts, out of the first load.
import { rawRequest } from './http';
import type { Attachment, UploadLimits } from './types';

/** The server's defaults, used until GET /api/attachments/limits answers. */
export const DEFAULT_LIMITS: UploadLimits = { maxSize: 25 * 1024 * 1024, maxPerMessage: 10, types: [] };

let cookieToken = '';
let cookieReady: Promise<void> = Promise.resolve();

/**
 * Puts the access token in the HttpOnly files cookie (POST /api/files/session). Called whenever the session's
 * token changes; the cookie expires with the token.
 */
export function syncFilesCookie(token: string | null | undefined): Promise<void> {
  if (!token || token === cookieToken) return cookieReady;
  cookieToken = token;
  cookieReady = rawRequest<void>('/files/session', { method: 'POST', token }).then(
    () => undefined,
    () => {
      cookieToken = ''; // try again next time
    },
  );
  return cookieReady;
}

/** Resolves once the latest cookie request finished (an image that failed to load retries after it). */
export function filesCookieReady(): Promise<void> {
  return cookieReady;
}

/** 1.2 MB style sizes, as Discord shows them (binary units, named as people know them). */
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/** What kind of preview a file gets. */
export function previewKind(a: Pick<Attachment, 'contentType' | 'previewUrl' | 'snippet'>): 'image' | 'video' | 'audio' | 'text' | 'file' {
  if (a.contentType.startsWith('image/') && a.previewUrl) return 'image';
  if (a.contentType === 'video/mp4' || a.contentType === 'video/webm') return 'video';
  if (a.contentType.startsWith('audio/')) return 'audio';
  if (a.snippet) return 'text';
  return 'file';
}

/** The URL that downloads a file (as an attachment, whatever its type). */
export function downloadUrl(a: Pick<Attachment, 'url'>) {
  // A blob: URL (a file decrypted here) takes no query; its <a download> names it.
  return a.url.startsWith('blob:') ? a.url : `${a.url}${a.url.includes('?') ? '&' : '?'}download=1`;
}
