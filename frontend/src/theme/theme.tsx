// Light, dark, or follow the system; remembered per user in localStorage (`parley.theme.<userId>`).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react';

export type ThemePreference = 'system' | 'light' | 'dark';
export type ResolvedTheme = 'light' | 'dark';

export const themeKey = (userId: string | null | undefined) => (userId ? `parley.theme.${userId}` : 'parley.theme');
const LAST_KEY = 'parley.theme.last';

function readPref(userId: string | null | undefined): ThemePreference {
  try {
    const v = localStorage.getItem(themeKey(userId)) ?? (userId ? null : localStorage.getItem(LAST_KEY));
    if (v === 'light' || v === 'dark' || v === 'system') return v;
  } catch {
    /* storage blocked */
  }
  return 'system';
}

const media = () => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null);

function useSystemTheme(): ResolvedTheme {
  return useSyncExternalStore(
    (cb) => {
      const m = media();
      m?.addEventListener?.('change', cb);
      return () => m?.removeEventListener?.('change', cb);
    },
    () => (media()?.matches === false ? 'light' : 'dark'),
    () => 'dark',
  );
}

export function applyTheme(theme: ResolvedTheme) {
  const root = document.documentElement;
  root.dataset.theme = theme;
  root.style.colorScheme = theme;
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', theme === 'dark' ? '#313338' : '#ffffff');
}

interface ThemeCtx {
  preference: ThemePreference;
  resolved: ResolvedTheme;
  setPreference: (p: ThemePreference) => void;
}

const Ctx = createContext<ThemeCtx>({ preference: 'system', resolved: 'dark', setPreference: () => undefined });

export function ThemeProvider({ userId, children }: { userId: string | null; children: ReactNode }) {
  const [state, setState] = useState(() => ({ userId, pref: readPref(userId) }));
  // Re-read when the user changes (derived state, no effect needed).
  const current = state.userId === userId ? state : { userId, pref: readPref(userId) };
  if (current !== state) setState(current);
  const system = useSystemTheme();
  const resolved: ResolvedTheme = current.pref === 'system' ? system : current.pref;

  useEffect(() => applyTheme(resolved), [resolved]);

  const setPreference = useCallback(
    (p: ThemePreference) => {
      try {
        localStorage.setItem(themeKey(userId), p);
        localStorage.setItem(LAST_KEY, p);
      } catch {
        /* storage blocked: still switch for this page */
      }
      setState({ userId, pref: p });
    },
    [userId],
  );

  const value = useMemo(() => ({ preference: current.pref, resolved, setPreference }), [current.pref, resolved, setPreference]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useTheme = () => useContext(Ctx);
