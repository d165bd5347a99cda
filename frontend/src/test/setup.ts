import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import { markdownReady } from '../components/MessageContent';

// Messages render as markdown once the lazily loaded parser is in; every test starts with it loaded.
await markdownReady;

afterEach(() => {
  cleanup();
  localStorage.clear();
});
