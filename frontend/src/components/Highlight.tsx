// Highlighted code as React elements: a code block's (MarkdownContent.tsx) or a text file's first lines
// (Attachments.tsx). Loaded on demand with the highlighter (chat/highlight.ts: highlight.js and its grammars), so
// neither the first load nor the markdown chunk carries it. Nothing is ever set as innerHTML.
import type { ReactNode } from 'react';
import { highlight, type HlNode } from '../chat/highlight';

function render(nodes: HlNode[]): ReactNode[] {
  return nodes.map((n, i) =>
    typeof n === 'string' ? (
      n
    ) : (
      <span key={i} className={n.className}>
        {render(n.children)}
      </span>
    ),
  );
}

/** The code highlighted as `lang`, or null when the language is unknown (it then stays plain). */
export function highlightCode(lang: string, code: string): ReactNode[] | null {
  const nodes = highlight(lang, code);
  return nodes && render(nodes);
}

/** The language highlight.js should use, from a file name. */
export function langOf(name: string): string {
  const ext = name.toLowerCase().split('.').pop() ?? '';
  const map: Record<string, string> = { js: 'javascript', mjs: 'javascript', ts: 'typescript', tsx: 'typescript', py: 'python', rb: 'ruby', rs: 'rust', sh: 'bash', yml: 'yaml', md: 'markdown', h: 'c', hpp: 'cpp', cc: 'cpp', kt: 'kotlin', cs: 'csharp' };
  return map[ext] ?? ext;
}
