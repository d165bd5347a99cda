/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const backend = env.PARLEY_DEV_BACKEND ?? 'http://127.0.0.1:8080';

/**
 * Keeps the chat screen's JavaScript in one chunk. Rolldown otherwise cuts the modules that the chat screen shares
 * with its lazy parts (components/lazy.tsx) into many small common chunks, which the browser must fetch before the
 * first paint anyway and which compress worse apart (measured: +7 KB gzip over one chunk). The modules captured are
 * those the chat screen imports statically and neither the entry nor the other screens (login, invite) do, so those
 * never download the chat screen; the lazy parts then import this one chunk.
 */
function chatChunk(screen: string, otherScreens: string[]): { plugin: Plugin; test: (id: string) => boolean } {
  const imports = new Map<string, readonly string[]>();
  let members: Set<string> | null = null;
  const closure = (from: string[]) => {
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const i of imports.get(id) ?? []) visit(i);
    };
    from.forEach(visit);
    return seen;
  };
  let entries: string[] = [];
  const plugin: Plugin = {
    name: 'parley-chat-chunk',
    apply: 'build',
    buildStart() {
      imports.clear();
      entries = [];
      members = null;
    },
    moduleParsed(info) {
      imports.set(info.id, info.importedIds);
      if (info.isEntry) entries = [...entries.filter((e) => e !== info.id), info.id];
    },
  };
  const test = (id: string) => {
    if (!members) {
      const find = (suffix: string) => [...imports.keys()].filter((k) => k.endsWith(suffix));
      const elsewhere = closure([...entries, ...otherScreens.flatMap(find)]);
      members = new Set([...closure(find(screen))].filter((m) => !elsewhere.has(m)));
    }
    return members.has(id);
  };
  return { plugin, test };
}

const chat = chatChunk('/src/app/chatRoutes.ts', ['/src/pages/AuthPages.tsx', '/src/pages/InvitePage.tsx']);

export default defineConfig({
  plugins: [react(), chat.plugin],
  server: {
    port: 5173,
    strictPort: false,
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/socket.io': { target: backend, ws: true, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target: backend },
      '/socket.io': { target: backend, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // dist/.vite/manifest.json: which chunks the entry loads eagerly (scripts/bundle-budget.mjs reads it).
    manifest: true,
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      // includeDependenciesRecursively: false, or the group would also pull in what the chat screen shares with the
      // entry (React, TanStack Query) and the entry would import the chat screen's chunk.
      output: { codeSplitting: { includeDependenciesRecursively: false, groups: [{ name: 'chatRoutes', test: chat.test }] } },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});
