import { describe, expect, it } from 'vitest';
import { normalizeChannelName } from './modals';

// The same cases as the server's rule (services/community), so what the form shows is what gets created.
describe('normalizeChannelName', () => {
  it.each([
    ['Random Stuff!', 'random-stuff'],
    ['  off   topic  ', 'off-topic'],
    ['--a -- b--', 'a-b'],
    ['dev_ops 2', 'dev_ops-2'],
    ['Café Crème', 'café-crème'],
    ['C++ & Go (backend)', 'c-go-backend'],
    ['🎉 party time 🎉', 'party-time'],
    ['!!!', ''],
  ])('%j → %j', (input, want) => {
    expect(normalizeChannelName(input)).toBe(want);
  });
});
