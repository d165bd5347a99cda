// Message search results as the panel shows them (issue #18): grouped by channel, the matched words marked.
import type { Id, SearchResult, TextRange } from '../api/types';

export interface ResultGroup {
  channelId: Id;
  results: SearchResult[];
}

/**
 * Groups results by channel, as Discord and Slack show them: channels in the order of their newest result, each
 * channel's results newest first (the API's order is newest first overall).
 */
export function groupByChannel(results: SearchResult[]): ResultGroup[] {
  const groups = new Map<Id, ResultGroup>();
  for (const r of results) {
    let g = groups.get(r.message.channelId);
    if (!g) {
      g = { channelId: r.message.channelId, results: [] };
      groups.set(r.message.channelId, g);
    }
    g.results.push(r);
  }
  return [...groups.values()];
}

export interface Segment {
  text: string;
  mark: boolean;
}

/** Splits text at the highlighted ranges (UTF-16 offsets, as the API gives them); bad ranges are ignored. */
export function highlightSegments(text: string, ranges: TextRange[]): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const start = Math.max(r.start, pos);
    const end = Math.min(r.end, text.length);
    if (end <= start) continue;
    if (start > pos) out.push({ text: text.slice(pos, start), mark: false });
    out.push({ text: text.slice(start, end), mark: true });
    pos = end;
  }
  if (pos < text.length || out.length === 0) out.push({ text: text.slice(pos), mark: false });
  return out;
}
