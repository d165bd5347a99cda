import { memo } from 'react';
import { splitLinks } from '../chat/linkify';

/** Message text with http(s) links made clickable. Everything is rendered as text nodes: never as HTML. */
export const MessageContent = memo(function MessageContent({ content }: { content: string }) {
  const segments = splitLinks(content);
  return (
    <div className="message-content" data-testid="message-content">
      {segments.map((s, i) =>
        s.type === 'link' ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer">
            {s.text}
          </a>
        ) : (
          <span key={i}>{s.text}</span>
        ),
      )}
    </div>
  );
});
