// How mentions inside message text render: the chips themselves are MentionChips.tsx, in the markdown chunk with
// the renderer that draws them; this context only says whether they may resolve names from the app's data (inside
// AppMentions) or render as unknown (tests, previews).
import { createContext, type ReactNode } from 'react';

/** Whether mention chips resolve names from the app's data. */
export const MentionContext = createContext(false);

/** Mention chips that resolve names from the app's data; wrap the routes that show messages. */
export function AppMentions({ children }: { children: ReactNode }) {
  return <MentionContext.Provider value>{children}</MentionContext.Provider>;
}
