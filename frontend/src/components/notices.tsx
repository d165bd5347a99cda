import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';

interface Notice {
  id: number;
  text: string;
  tone: 'info' | 'error' | 'success';
}

interface NoticeApi {
  notify: (text: string, tone?: Notice['tone']) => void;
}

const Ctx = createContext<NoticeApi>({ notify: () => undefined });

export function NoticeProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Notice[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setItems((xs) => xs.filter((x) => x.id !== id)), []);
  const notify = useCallback(
    (text: string, tone: Notice['tone'] = 'info') => {
      const id = next.current++;
      setItems((xs) => [...xs.filter((x) => x.text !== text), { id, text, tone }].slice(-4));
      setTimeout(() => dismiss(id), 6000);
    },
    [dismiss],
  );
  const api = useMemo(() => ({ notify }), [notify]);
  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="notices" aria-live="polite" role="status">
        {items.map((n) => (
          <div key={n.id} className={`notice notice-${n.tone}`} data-testid="notice">
            <span>{n.text}</span>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export const useNotify = () => useContext(Ctx).notify;
