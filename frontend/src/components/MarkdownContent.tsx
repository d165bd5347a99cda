// The renderer of a message's markdown (chat/markdown.ts parses it): blocks, inline styles, spoilers, links (an
// outside one asks first), mentions and code blocks (highlighted once the highlighter chunk is here). One chunk
// with the parser, loaded at app start by MessageContent.tsx, which shows plain text until it is here.
import {
  Fragment,
  useEffect,
  useMemo,
  useState,
  type KeyboardEvent,
  type MouseEvent,
  type ReactNode,
} from 'react';
import { createPortal } from 'react-dom';
import * as md from '../chat/markdown';
import type { MdBlock, MdInline } from '../chat/markdown';
import { useMentionRenderers, type MentionRenderers } from './MentionChips';
import { LeaveDialog } from './lazy';

/** Message text rendered as Discord-flavoured markdown. Elements are built from the parsed tree (chat/markdown.ts);
 *  message text only ever becomes React text nodes, never HTML. */
export function MarkdownContent({ content }: { content: string }) {
  const mentions = useMentionRenderers();
  const blocks = useMemo(() => md.parseMessage(content), [content]);
  // Spoilers are plain elements numbered in document order, revealed through one handler here: a message of
  // hundreds of spoilers stays cheap to render. An edit hides them again.
  const [revealed, setRevealed] = useState<{ content: string; ids: ReadonlySet<number> }>({ content, ids: new Set() });
  // A link whose text may not say where it goes (masked, or an international host) is followed only after the
  // dialog has shown its real URL.
  const [leaving, setLeaving] = useState<string | null>(null);
  const ids = revealed.content === content ? revealed.ids : NONE;
  const reveal = (target: EventTarget) => {
    const id = (target as Element).closest?.('[data-spoiler]')?.getAttribute('data-spoiler');
    if (id != null) setRevealed({ content, ids: new Set(ids).add(Number(id)) });
  };
  const onLinkClick = (e: MouseEvent) => {
    const a = (e.target as Element).closest?.('a[data-leave]');
    if (!a) return false;
    e.preventDefault();
    setLeaving(a.getAttribute('href'));
    return true;
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if ((e.key === 'Enter' || e.key === ' ') && (e.target as Element).hasAttribute('data-spoiler')) {
      e.preventDefault();
      reveal(e.target);
    }
  };
  const ctx: Ctx = { spoilers: 0, revealed: ids, linkTarget: md.linkTarget, isInternational: md.isInternationalHost, mentions };
  return (
    // eslint-disable-next-line jsx-a11y/no-static-element-interactions -- event delegation: the spoilers inside are role="button" with tabIndex 0; this div only receives their bubbling clicks and keys
    <div
      className="message-content"
      data-testid="message-content"
      onClick={(e: MouseEvent) => onLinkClick(e) || reveal(e.target)}
      onAuxClick={(e: MouseEvent) => e.button === 1 && onLinkClick(e)}
      onKeyDown={onKeyDown}
    >
      {renderBlocks(blocks, ctx)}
      {leaving && createPortal(<LeaveDialog href={leaving} onClose={() => setLeaving(null)} />, document.body)}
    </div>
  );
}

const NONE: ReadonlySet<number> = new Set();

/** Render state: the next spoiler's number, which are revealed, and the parser module's linkTarget. */
type Ctx = {
  spoilers: number;
  revealed: ReadonlySet<number>;
  linkTarget: typeof md.linkTarget;
  isInternational: typeof md.isInternationalHost;
  mentions: MentionRenderers;
};

/** Line height of message text, in rem: a blank line between two blocks keeps this much space. */
const LINE_REM = 1.375;

function renderBlocks(blocks: MdBlock[], ctx: Ctx): ReactNode[] {
  return blocks.map((b, i) => {
    const style = b.gap ? { marginTop: `${b.gap * LINE_REM}rem` } : undefined;
    switch (b.type) {
      case 'paragraph':
        return (
          <div key={i} className="md-p" style={style}>
            {renderInline(b.children, ctx)}
          </div>
        );
      case 'codeBlock':
        return <CodeBlock key={i} lang={b.lang} text={b.text} style={style} />;
      case 'quote':
        return (
          <blockquote key={i} className="md-quote" style={style}>
            {renderBlocks(b.children, ctx)}
          </blockquote>
        );
      case 'list': {
        const items = b.items.map((item, j) => <li key={j}>{renderBlocks(item, ctx)}</li>);
        return b.ordered ? (
          <ol key={i} className="md-list" start={b.start} style={style}>
            {items}
          </ol>
        ) : (
          <ul key={i} className="md-list" style={style}>
            {items}
          </ul>
        );
      }
    }
  });
}

function renderInline(nodes: MdInline[], ctx: Ctx): ReactNode[] {
  return nodes.map((n, i) => {
    switch (n.type) {
      case 'text':
        return n.text;
      case 'break':
        return '\n';
      case 'code':
        return (
          <code key={i} className="md-code">
            {n.text}
          </code>
        );
      case 'emoji':
        return (
          <span key={i} className="emoji" role="img" aria-label={`:${n.name}:`} title={`:${n.name}:`}>
            {n.char}
          </span>
        );
      case 'mention':
        if (n.kind === 'user') return <Fragment key={i}>{ctx.mentions.user(n.id)}</Fragment>;
        if (n.kind === 'channel') return <Fragment key={i}>{ctx.mentions.channel(n.id)}</Fragment>;
        return (
          <span key={i} className="mention" data-testid="mention" data-kind={n.kind}>
            @{n.kind}
          </span>
        );
      case 'strong':
        return <strong key={i}>{renderInline(n.children, ctx)}</strong>;
      case 'em':
        return <em key={i}>{renderInline(n.children, ctx)}</em>;
      case 'underline':
        return <u key={i}>{renderInline(n.children, ctx)}</u>;
      case 'strike':
        return <s key={i}>{renderInline(n.children, ctx)}</s>;
      case 'spoiler': {
        const id = ctx.spoilers++;
        const inner = renderInline(n.children, ctx);
        if (ctx.revealed.has(id)) {
          return (
            <span key={i} className="spoiler revealed" tabIndex={-1}>
              {inner}
            </span>
          );
        }
        // Hidden: its content is inert and hidden from assistive technology, so a link inside cannot be followed
        // unseen. Click, or Enter/Space while focused, reveals it (handled in MessageContent).
        return (
          <span key={i} className="spoiler" role="button" tabIndex={0} aria-label="Spoiler, press to reveal" data-spoiler={id}>
            <span className="spoiler-content" aria-hidden="true" inert>
              {inner}
            </span>
          </span>
        );
      }
      case 'link': {
        // Masked text can say anything, and an international host can look like another: both show the real host
        // and ask before leaving (data-leave, handled in MessageContent).
        const suspect = n.masked || ctx.isInternational(n.href);
        return (
          <a key={i} href={n.href} target="_blank" rel="noopener noreferrer nofollow" title={n.href} data-leave={suspect ? '' : undefined}>
            {renderInline(n.children, ctx)}
            {suspect && <span className="link-target"> ({ctx.linkTarget(n.href)})</span>}
          </a>
        );
      }
    }
  });
}

type Highlighted = { lang: string; text: string; nodes: ReactNode[] | null };

/** A fenced code block; highlighted once the highlighter chunk has loaded, plain until then (and for unknown
 *  languages). */
function CodeBlock({ lang, text, style }: { lang: string; text: string; style?: { marginTop: string } }) {
  const [hl, setHl] = useState<Highlighted | null>(null);
  useEffect(() => {
    if (!lang) return;
    let live = true;
    import('./Highlight')
      .then((m) => {
        if (live) setHl({ lang, text, nodes: m.highlightCode(lang, text) });
      })
      .catch(() => {}); // no highlighting is fine: the code is shown plain
    return () => {
      live = false;
    };
  }, [lang, text]);
  const nodes = hl && hl.lang === lang && hl.text === text ? hl.nodes : null;
  return (
    <pre className="md-codeblock" style={style} data-lang={lang || undefined}>
      <code className={nodes ? 'hljs' : undefined}>{nodes ?? text}</code>
    </pre>
  );
}
