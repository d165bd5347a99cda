// The composer's upload code: checking and starting the uploads of files picked, dropped or pasted, and the tray
// that shows them with their progress. A lazy chunk (components/lazy.tsx), prefetched after the first paint; the
// composer keeps its attach button and holds files that come before this chunk (Composer.tsx).
import type { Attachment, UploadLimits } from '../api/types';
import { formatSize } from '../api/files';
import { checkFile } from '../api/uploads';
import type { Uploader } from './Composer';

export interface UploadItem {
  key: string;
  name: string;
  size: number;
  progress: number;
  status: 'uploading' | 'done' | 'error';
  error?: string;
  attachment?: Attachment;
  abort?: AbortController;
  /** A local preview of an image (object URL), revoked when the item goes. */
  thumb?: string;
}

let uploadSeq = 0;

/**
 * Checks `files` against the limits and the room left beside `current`, starts the uploads of those that pass and
 * returns the tray's new items (refused files as errors); `patch` reports progress and the outcome.
 */
export function startUploads(
  files: File[],
  current: UploadItem[],
  limits: UploadLimits,
  uploader: Uploader,
  patch: (key: string, p: Partial<UploadItem>) => void,
): UploadItem[] {
  const room = limits.maxPerMessage - current.filter((u) => u.status !== 'error').length;
  let taken = 0;
  return files.map((file): UploadItem => {
    const key = `u${++uploadSeq}`;
    const problem = checkFile(file, limits) ?? (taken >= room ? `At most ${limits.maxPerMessage} files per message.` : null);
    if (problem) return { key, name: file.name || 'file', size: file.size, progress: 0, status: 'error', error: problem };
    taken++;
    const abort = new AbortController();
    const thumb = file.type.startsWith('image/') && typeof URL.createObjectURL === 'function' ? URL.createObjectURL(file) : undefined;
    uploader(file, (p) => patch(key, { progress: p }), abort.signal).then(
      (attachment: Attachment) => patch(key, { status: 'done', progress: 1, attachment, abort: undefined }),
      (e: unknown) => {
        if (abort.signal.aborted) return; // cancelled: the item is gone already
        patch(key, { status: 'error', error: e instanceof Error ? e.message : 'The upload failed.', abort: undefined });
      },
    );
    return { key, name: file.name || 'file', size: file.size, progress: 0, status: 'uploading', abort, thumb };
  });
}

export function UploadTray({ uploads, onRemove }: { uploads: UploadItem[]; onRemove: (key: string) => void }) {
  return (
    <ul className="upload-tray" data-testid="upload-tray" aria-label="Files to send">
      {uploads.map((u) => (
        <li key={u.key} className={`upload-item ${u.status}`} data-testid="upload-item" data-status={u.status} data-name={u.name}>
          {u.thumb ? (
            <img className="upload-thumb" src={u.thumb} alt="" />
          ) : (
            <span className="upload-icon" aria-hidden="true">
              ▤
            </span>
          )}
          <span className="upload-meta">
            <span className="upload-name truncate" title={u.name}>
              {u.name}
            </span>
            <span className="upload-size">{formatSize(u.size)}</span>
            {u.status === 'uploading' && (
              <progress className="upload-progress" max={1} value={u.progress} aria-label={`Uploading ${u.name}`} data-testid="upload-progress" />
            )}
            {u.status === 'error' && (
              <span className="upload-error" role="alert" data-testid="upload-error">
                {u.error}
              </span>
            )}
          </span>
          <button
            type="button"
            className="upload-remove icon-button"
            aria-label={u.status === 'uploading' ? `Cancel uploading ${u.name}` : `Remove ${u.name}`}
            onClick={() => onRemove(u.key)}
            data-testid="upload-remove"
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
