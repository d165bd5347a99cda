import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';
import { markdownReady } from '../components/MessageContent';

// Messages render as markdown once the lazily loaded parser is in; every test starts with it loaded.
await markdownReady;

afterEach(() => {
  cleanup();
  // Absent in the few suites that run in the node environment (src/e2ee: WebCrypto across jsdom's realm fails).
  globalThis.localStorage?.clear();
});

// Lazy chunks (screens, the markdown parser, the highlighter) are transformed on first import; on a busy 2-core
// machine that took over a second, past testing-library's default 1 s wait. A missing element still fails the test.
configure({ asyncUtilTimeout: 10_000 });
