// Syntax highlighting for fenced code blocks. Loaded lazily (import('./highlight')) so highlight.js and its
// grammars stay out of the main bundle. lowlight returns a syntax tree (hast) rather than an HTML string; we turn
// it into plain nodes that the renderer makes into React elements, so nothing is ever set as innerHTML. Class
// names come from the grammars (hljs-keyword, ...), never from the message.
import { common, createLowlight } from 'lowlight';

export type HlNode = string | { className: string; children: HlNode[] };

const lowlight = createLowlight(common);

type HastChild = ReturnType<typeof lowlight.highlight>['children'][number];

function convert(nodes: HastChild[]): HlNode[] {
  const out: HlNode[] = [];
  for (const n of nodes) {
    if (n.type === 'text') out.push(n.value);
    else if (n.type === 'element') {
      const cls = n.properties.className;
      out.push({ className: Array.isArray(cls) ? cls.join(' ') : '', children: convert(n.children as HastChild[]) });
    }
  }
  return out;
}

/** The highlighted code, or null when the language is unknown (the block then stays plain). */
export function highlight(lang: string, code: string): HlNode[] | null {
  if (!lang || !lowlight.registered(lang)) return null;
  return convert(lowlight.highlight(lang, code).children);
}
