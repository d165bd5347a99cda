// Initial JavaScript budget (issue #16): the entry chunk plus every chunk it imports statically (what the browser
// must download before anything is drawn) must stay at or under 120 KB gzip. Screens behind React.lazy are not
// initial; their sizes are printed for information (login, invite, chat). Reads dist/.vite/manifest.json; run
// after `vite build` (part of `npm run build`). Exits 1 over budget. PARLEY_JS_BUDGET_KB overrides the limit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = Number(process.env.PARLEY_JS_BUDGET_KB || 120);
// The login screen (entry + its lazy page): what a logged-out visitor downloads first. 85.6 KB on 2026-12-06.
const LOGIN_CEILING_KB = Number(process.env.PARLEY_LOGIN_JS_CEILING_KB || 90);
// The chat screen (what a logged-in user's first screen downloads) meets the same 120 KB target: 119.67 KB (122543 B)
// on 2026-12-07, so its ceiling is that figure rounded up. It got there by loading what the first paint does not
// draw as lazy parts, prefetched once the browser is idle after the first paint, with an action that needs one
// before it arrived held and run when it does (src/components/lazy.tsx): who reacted and who is typing (and with
// them TanStack Query's useQueries), a message's edit box, menu, hover toolbar and dialogs, the reaction popover,
// the composer's upload code, the server menu (and useMutation), the sender's server operations and what events do
// to messages and pins (beside realtime/live.ts), the markdown renderer and mention chips (with the parser they
// render), highlighted code (with the highlighter). Earlier: 128.0 KB after the realtime split (#20 item 9) and the
// lazy event handlers, outbox and paging; 131.2-131.8 KB after react-virtuoso -> virtua (148.9 -> 133.5 KB) and the
// lazy DM menus and notification controller; 148.6 KB (socket client, router swap, member list, search, pins, user
// settings lazy), 175.0 KB before that. What is left is React 19 + react-dom (~62 KB), TanStack Query (~11 KB),
// virtua and the chat code that draws the first screen (README, "Web app"). This ceiling keeps it from growing
// unnoticed: split what the first paint does not need into lazy parts rather than raise it (never above 120).
const CHAT_CEILING_KB = Number(process.env.PARLEY_CHAT_JS_CEILING_KB || 119.7);

/** The manifest keys of `keys` and of every chunk they import statically (transitively). */
export function closure(manifest, keys) {
  const seen = new Set();
  const visit = (k) => {
    if (seen.has(k) || !manifest[k]) return;
    seen.add(k);
    for (const i of manifest[k].imports ?? []) visit(i);
  };
  keys.forEach(visit);
  return seen;
}

export function measure(dist) {
  const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
  const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
  if (!entry) throw new Error('no entry chunk in the manifest');
  const gz = new Map();
  const size = (keys) => {
    let bytes = 0;
    for (const k of keys) {
      const file = manifest[k].file;
      if (!file.endsWith('.js')) continue;
      if (!gz.has(file)) gz.set(file, gzipSync(readFileSync(join(dist, file)), { level: 9 }).length);
      bytes += gz.get(file);
    }
    return bytes;
  };
  const initial = closure(manifest, [entry]);
  // A screen's chunk is keyed by its source file, or (when vite.config.ts groups the screen's modules into one
  // chunk named after it) by that chunk's name.
  const key = (src) => {
    if (manifest[src]) return src;
    const name = src.replace(/^.*\/|\.tsx?$/g, '');
    const k = Object.keys(manifest).find((c) => manifest[c].name === name && manifest[c].file.endsWith('.js'));
    // A screen that cannot be found would count as nothing and pass any budget.
    if (!k) throw new Error(`bundle budget: no chunk for ${src} in the manifest`);
    return k;
  };
  const screen = (...dynamic) => size(new Set([...initial, ...closure(manifest, dynamic.map(key))]));
  return {
    initial: size(initial),
    initialFiles: [...initial].map((k) => manifest[k].file),
    login: screen('src/pages/AuthPages.tsx'),
    invite: screen('src/pages/InvitePage.tsx'),
    chat: screen('src/app/chatRoutes.ts'),
    chatWithMarkdown: screen('src/app/chatRoutes.ts', 'src/components/MarkdownContent.tsx'),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = measure(process.argv[2] || 'dist');
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`initial JavaScript: ${kb(m.initial)} gzip (${m.initialFiles.join(', ')}); budget ${BUDGET_KB} KB`);
  console.log(
    `  with the first screen's lazy chunks: login ${kb(m.login)}, invite ${kb(m.invite)}, chat ${kb(m.chat)} (${kb(m.chatWithMarkdown)} with the markdown parser)`,
  );
  console.log(`  chat screen: ${kb(m.chat)} gzip; target ${BUDGET_KB} KB (met), ceiling ${CHAT_CEILING_KB} KB; login screen ceiling ${LOGIN_CEILING_KB} KB`);
  if (m.login > LOGIN_CEILING_KB * 1024) {
    console.error(`bundle budget: the login screen's JavaScript ${kb(m.login)} gzip is over its ${LOGIN_CEILING_KB} KB ceiling; keep the chat screen's code out of the entry and the login page`);
    process.exit(1);
  }
  if (m.chat > CHAT_CEILING_KB * 1024) {
    console.error(`bundle budget: the chat screen's JavaScript ${kb(m.chat)} gzip is over its ${CHAT_CEILING_KB} KB ceiling; load what its first paint does not need lazily (src/components/lazy.tsx)`);
    process.exit(1);
  }
  if (m.initial > BUDGET_KB * 1024) {
    console.error(`bundle budget: initial JavaScript ${kb(m.initial)} gzip is over ${BUDGET_KB} KB; split what the first screen does not need`);
    process.exit(1);
  }
}
