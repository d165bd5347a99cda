// The add-reaction popover: a row of quick reactions at once, and the full emoji picker (emoji-picker-react,
// native emoji, no CDN) loaded on first open as a chunk of its own, so the main bundle does not carry it.
import { lazy, Suspense, useEffect, useMemo, useRef } from 'react';
import { createPortal } from 'react-dom';
import { QUICK_REACTIONS } from '../chat/reactions';
import { useTheme } from '../theme/theme';

const FullPicker = lazy(() => import('./emojiPicker'));

const WIDTH = 340;
const HEIGHT = 420;

export interface ReactionPickerProps {
  anchor: HTMLElement;
  onPick: (emoji: string) => void;
  onClose: () => void;
}

function place(anchor: HTMLElement): { top: number; left: number } {
  const r = anchor.getBoundingClientRect();
  const vw = window.innerWidth || 1024;
  const vh = window.innerHeight || 768;
  const left = Math.max(8, Math.min(r.right - WIDTH, vw - WIDTH - 8));
  const below = r.bottom + 4;
  const top = below + HEIGHT <= vh - 8 ? below : Math.max(8, r.top - HEIGHT - 4);
  return { top, left };
}

export function ReactionPicker({ anchor, onPick, onClose }: ReactionPickerProps) {
  const box = useRef<HTMLDivElement>(null);
  const pos = useMemo(() => place(anchor), [anchor]);
  const { resolved } = useTheme();

  useEffect(() => {
    const el = box.current;
    el?.querySelector<HTMLButtonElement>('button')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      }
    };
    const onDown = (e: MouseEvent) => {
      const t = e.target as Node;
      if (!el?.contains(t) && !anchor.contains(t)) onClose();
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('mousedown', onDown);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('mousedown', onDown);
      if (document.activeElement === document.body || el?.contains(document.activeElement)) anchor.focus();
    };
  }, [anchor, onClose]);

  return createPortal(
    <div
      ref={box}
      className="reaction-picker"
      role="dialog"
      aria-label="Add a reaction"
      data-testid="reaction-picker"
      style={{ top: pos.top, left: pos.left, width: WIDTH }}
    >
      <div className="quick-reactions" role="group" aria-label="Quick reactions">
        {QUICK_REACTIONS.map((e) => (
          <button key={e} type="button" className="quick-reaction" onClick={() => onPick(e)} aria-label={`React with ${e}`} data-testid="quick-reaction">
            {e}
          </button>
        ))}
      </div>
      <Suspense fallback={<div className="picker-loading muted small">Loading emoji…</div>}>
        <FullPicker
          emojiStyle="native"
          lazyLoadEmojis
          theme={resolved === 'dark' ? 'dark' : 'light'}
          previewConfig={{ showPreview: false }}
          width={WIDTH}
          height={HEIGHT - 56}
          onEmojiClick={(d) => onPick(d.emoji)}
        />
      </Suspense>
    </div>,
    document.body,
  );
}
