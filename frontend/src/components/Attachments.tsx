// The files of a message: images inline (their box sized from width/height before they load, so nothing jumps;
// a click opens a lightbox), video and audio with the browser's players, text and code with their first lines
// highlighted, anything else as a card with name, size and a download button.
import { useEffect, useState, type ReactNode } from 'react';
import type { Attachment } from '../api/types';
import { downloadUrl, filesCookieReady, formatSize, previewKind } from '../api/files';
import { Lightbox } from './lazy';
import './attachments.css';

/** Inline images fit this box (Discord: about 550 × 350). */
const MAX_W = 400;
const MAX_H = 300;

export function fit(w = 0, h = 0): { width: number; height: number } {
  if (!w || !h) return { width: MAX_W, height: MAX_H };
  const s = Math.min(1, MAX_W / w, MAX_H / h);
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** An <img>/<video> source that retries once after the files cookie is in place (the first load can race it). */
function useRetryingSrc(src: string) {
  const [retry, setRetry] = useState(0);
  const [prev, setPrev] = useState(src);
  if (prev !== src) {
    setPrev(src);
    setRetry(0);
  }
  const onError = () => {
    if (retry === 0) void filesCookieReady().then(() => setRetry(1));
  };
  return { src: retry ? `${src}${src.includes('?') ? '&' : '?'}r=${retry}` : src, onError };
}

function ImageAttachment({ a, onOpen }: { a: Attachment; onOpen: () => void }) {
  const box = fit(a.width, a.height);
  const img = useRetryingSrc(a.previewUrl ?? a.url);
  return (
    <button type="button" className="attachment-image" style={{ width: box.width, height: box.height }} onClick={onOpen} aria-label={`Open ${a.name}`}>
      <img src={img.src} onError={img.onError} alt={a.name} width={box.width} height={box.height} loading="lazy" data-testid="attachment-image" />
    </button>
  );
}

function FileCard({ a, children }: { a: Attachment; children?: React.ReactNode }) {
  return (
    <div className="attachment-card" data-testid="attachment-file">
      <div className="attachment-card-row">
        <span className="attachment-card-icon" aria-hidden="true">
          ▤
        </span>
        <span className="attachment-card-meta">
          <a className="attachment-card-name truncate" href={downloadUrl(a)} download={a.name} title={a.name}>
            {a.name}
          </a>
          <span className="attachment-card-size">{formatSize(a.size)}</span>
        </span>
        <a className="attachment-download icon-button" href={downloadUrl(a)} download={a.name} aria-label={`Download ${a.name}`} data-testid="attachment-download">
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 4v11m0 0-4.5-4.5M12 15l4.5-4.5M5 19h14" stroke="currentColor" strokeWidth="2" fill="none" strokeLinecap="round" />
          </svg>
        </a>
      </div>
      {children}
    </div>
  );
}

function TextAttachment({ a }: { a: Attachment }) {
  const [nodes, setNodes] = useState<ReactNode[] | null>(null);
  useEffect(() => {
    let live = true;
    void import('./Highlight').then(({ highlightCode, langOf }) => {
      if (live) setNodes(highlightCode(langOf(a.name), a.snippet ?? ''));
    });
    return () => {
      live = false;
    };
  }, [a.name, a.snippet]);
  return (
    <FileCard a={a}>
      <pre className="attachment-snippet" data-testid="attachment-snippet">
        <code className="hljs">{nodes ?? a.snippet}</code>
      </pre>
    </FileCard>
  );
}

function MediaAttachment({ a, kind }: { a: Attachment; kind: 'video' | 'audio' }) {
  const media = useRetryingSrc(a.url);
  return (
    <div className={`attachment-media ${kind}`} data-testid={`attachment-${kind}`}>
      {kind === 'video' ? (
        // previewUrl is the server's poster frame (ffmpeg); without one the player shows its own. Files people
        // upload come without caption tracks.
        // eslint-disable-next-line jsx-a11y/media-has-caption
        <video controls preload="metadata" src={media.src} onError={media.onError} width={MAX_W} poster={a.previewUrl} aria-label={a.name} />
      ) : (
        // eslint-disable-next-line jsx-a11y/media-has-caption -- uploads come without caption tracks
        <audio controls preload="metadata" src={media.src} onError={media.onError} aria-label={a.name} />
      )}
      <a className="attachment-media-name" href={downloadUrl(a)} download={a.name}>
        {a.name} · {formatSize(a.size)}
      </a>
    </div>
  );
}

export function Attachments({ items }: { items: Attachment[] }) {
  const [open, setOpen] = useState<Attachment | null>(null);
  if (items.length === 0) return null;
  return (
    <div className="attachments" data-testid="attachments">
      {items.map((a) => {
        const kind = previewKind(a);
        return (
          <div key={a.id} className="attachment" data-testid="attachment" data-kind={kind} data-name={a.name}>
            {kind === 'image' && <ImageAttachment a={a} onOpen={() => setOpen(a)} />}
            {(kind === 'video' || kind === 'audio') && <MediaAttachment a={a} kind={kind} />}
            {kind === 'text' && <TextAttachment a={a} />}
            {kind === 'file' && <FileCard a={a} />}
          </div>
        );
      })}
      {open && <Lightbox a={open} onClose={() => setOpen(null)} />}
    </div>
  );
}
