// A draggable, focusable panel edge (issue #16): a vertical separator that the mouse drags and the arrow keys move
// (WAI-ARIA window splitter: role separator with a value). The width is kept per device (app/layout.ts).
import { useCallback, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { clampWidth, readWidth, widthForKey, writeWidth, type PanelSpec } from '../app/layout';

/** A panel's width, read once from this device's storage and saved whenever it changes. */
export function usePanelWidth(spec: PanelSpec): [number, (w: number) => void] {
  const [width, setWidth] = useState(() => readWidth(spec));
  const set = useCallback(
    (w: number) => {
      const c = clampWidth(spec, w);
      setWidth(c);
      writeWidth(spec, c);
    },
    [spec],
  );
  return [width, set];
}

export function Resizer({
  spec,
  width,
  onChange,
  label,
  side,
  controls,
  testId,
}: {
  spec: PanelSpec;
  width: number;
  onChange: (w: number) => void;
  label: string;
  /** Which edge of the panel it sits on: right (the channel column) or left (the member list). */
  side: 'right' | 'left';
  controls?: string;
  testId?: string;
}) {
  const drag = useRef<{ x: number; w: number } | null>(null);
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, w: width };
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (!drag.current) return;
    const dx = e.clientX - drag.current.x;
    onChange(drag.current.w + (side === 'right' ? dx : -dx));
  };
  const end = () => {
    drag.current = null;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const next = widthForKey(spec, width, e.key, e.shiftKey, side === 'right' ? 'ArrowRight' : 'ArrowLeft');
    if (next === null) return;
    e.preventDefault();
    onChange(next);
  };
  /* eslint-disable jsx-a11y/no-noninteractive-tabindex, jsx-a11y/no-noninteractive-element-interactions --
     a focusable separator with a value is an interactive widget (the WAI-ARIA window splitter pattern) */
  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-valuenow={width}
      aria-valuemin={spec.min}
      aria-valuemax={spec.max}
      aria-controls={controls}
      tabIndex={0}
      className={`resizer resizer-${side}`}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={end}
      onPointerCancel={end}
      onKeyDown={onKeyDown}
      data-testid={testId}
    />
  );
  /* eslint-enable jsx-a11y/no-noninteractive-tabindex, jsx-a11y/no-noninteractive-element-interactions */
}
