// markdown-it-emoji ships no types; we only use its shortcode table (name → emoji, GitHub's gemoji names).
declare module 'markdown-it-emoji/lib/data/full.mjs' {
  const table: Record<string, string>;
  export default table;
}
