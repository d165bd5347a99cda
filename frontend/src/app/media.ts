import { useSyncExternalStore } from 'react';

/** The phone layout's breakpoint (styles.css: max-width 700px). */
export const PHONE_QUERY = '(max-width: 700px)';

const mql = () => (typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(PHONE_QUERY) : null);

export const isPhone = () => mql()?.matches ?? false;

/** Whether the phone layout applies now (follows rotation and resizing). */
export function useIsPhone(): boolean {
  return useSyncExternalStore(
    (cb) => {
      const m = mql();
      m?.addEventListener('change', cb);
      return () => m?.removeEventListener('change', cb);
    },
    isPhone,
    () => false,
  );
}
