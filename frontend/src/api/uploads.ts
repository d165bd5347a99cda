// Uploads: a message's files with progress (XMLHttpRequest: fetch cannot report upload progress), avatars and server
// icons, and the check before a file is uploaded. Only lazy chunks use them (the composer's upload code, the
// encrypted-file code, the settings), so they stay out of the first load.
import { API_BASE, ApiError, toApiError } from './http';
import { formatSize } from './files';
import type { Attachment, Id, Me, Server, UploadLimits } from './types';

export interface UploadOptions {
  channelId: Id;
  file: File;
  token: string;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  /** A file encrypted in the browser (an end-to-end encrypted DM, e2ee/files.ts). */
  encrypted?: boolean;
}

/** Uploads one file as the raw request body; resolves to the stored attachment or rejects with an ApiError. */
export function uploadFile({ channelId, file, token, onProgress, signal, encrypted }: UploadOptions): Promise<Attachment> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API_BASE}/channels/${encodeURIComponent(channelId)}/attachments?filename=${encodeURIComponent(file.name || 'file')}${encrypted ? '&encrypted=1' : ''}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream'); // the server sniffs the type from the bytes
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress?.(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve((JSON.parse(xhr.responseText) as { attachment: Attachment }).attachment);
        } catch {
          reject(new ApiError(xhr.status, 'internal', 'The server answered something unexpected.'));
        }
        return;
      }
      const headers = new Headers();
      const retry = xhr.getResponseHeader('Retry-After');
      if (retry) headers.set('Retry-After', retry);
      void toApiError(new Response(xhr.responseText || null, { status: xhr.status, headers })).then(reject);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload failed: could not reach the server.'));
    xhr.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException('cancelled', 'AbortError'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}

/** Sets the caller's avatar from an image file (PUT /api/users/me/avatar, the raw bytes); resolves to the profile. */
export function uploadAvatar(file: File, token: string): Promise<Me> {
  return putImage<Me>('/users/me/avatar', file, token);
}

/** PUT /api/servers/:id/icon: a server's icon from an image (owners and admins), stored like an avatar. */
export function uploadServerIcon(serverId: string, file: File, token: string): Promise<Server> {
  return putImage<Server>(`/servers/${serverId}/icon`, file, token);
}

/** PUTs an image's raw bytes to an API path and resolves to the JSON the server answers. */
async function putImage<T>(path: string, file: File, token: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
      body: file,
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection.');
  }
  if (!res.ok) throw await toApiError(res);
  return (await res.json()) as T;
}

/** Why a file cannot be sent before uploading it, or null. */
export function checkFile(file: File, limits: UploadLimits): string | null {
  if (file.size === 0) return `${file.name || 'The file'} is empty.`;
  if (file.size > limits.maxSize) return `${file.name || 'The file'} is too big (${formatSize(file.size)}); files can be at most ${formatSize(limits.maxSize)}.`;
  return null;
}
