// The full-size view of an image attachment: opened by a click, so it loads as its own chunk (src/components/lazy.tsx).
import { useEffect, useRef } from 'react';
import type { Attachment } from '../api/types';
import { downloadUrl, formatSize } from '../api/files';

export function Lightbox({ a, onClose }: { a: Attachment; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    close.current?.focus();
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    // eslint-disable-next-line jsx-a11y/click-events-have-key-events, jsx-a11y/no-noninteractive-element-interactions -- Esc closes it (window listener); a click on the backdrop is the mouse way
    <div className="lightbox" role="dialog" aria-modal="true" aria-label={a.name} onClick={onClose} data-testid="lightbox">
      <img src={a.url} alt={a.name} className="lightbox-image" />
      <div className="lightbox-bar">
        <a href={downloadUrl(a)} download={a.name} onClick={(e) => e.stopPropagation()}>
          Download {a.name} ({formatSize(a.size)})
        </a>
        <button type="button" className="link-button" onClick={onClose} ref={close}>
          Close
        </button>
      </div>
    </div>
  );
}
