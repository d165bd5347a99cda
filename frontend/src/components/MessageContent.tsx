// Message text. The markdown parser (markdown-it and the emoji table, ~60 kB gzipped) and the renderer of what it
// parses (MarkdownContent.tsx) are one chunk of their own, so the first paint does not wait for them. It starts
// loading when this module loads, at app start, and is normally in place before the first messages arrive; until
// then a message shows as plain text.
import { memo, useSyncExternalStore } from 'react';
import { stripBidiControls } from '../chat/bidi';

type Rich = typeof import('./MarkdownContent');
let rich: Rich | null = null;
const onLoad = new Set<() => void>();
/** Settles once the parser has loaded (or failed to: messages then stay plain text). */
export const markdownReady: Promise<void> = import('./MarkdownContent').then(
  (m) => {
    rich = m;
    for (const f of onLoad) f();
  },
  () => {},
);
const subscribe = (f: () => void) => {
  onLoad.add(f);
  return () => void onLoad.delete(f);
};
const getRich = () => rich;

/** Message text rendered as Discord-flavoured markdown once the parser is here (MarkdownContent.tsx), plain text
 *  until then; message text only ever becomes React text nodes, never HTML. */
export const MessageContent = memo(function MessageContent({ content }: { content: string }) {
  const r = useSyncExternalStore(subscribe, getRich, getRich);
  if (!r) {
    return (
      <div className="message-content" data-testid="message-content">
        {stripBidiControls(content)}
      </div>
    );
  }
  return <r.MarkdownContent content={content} />;
});
