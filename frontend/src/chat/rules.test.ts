import { describe, expect, it } from 'vitest';
import { CHANNEL_NAME_EXAMPLES, MAX_CHANNEL_NAME_LENGTH, MAX_MESSAGE_LENGTH } from '../api/rules.gen';
import { normalizeChannelName } from './channelName';

// The server's answers (generated from internal/rules by go generate; a Go test fails when the file is stale),
// so what the form shows is what gets created.
describe('normalizeChannelName agrees with the server', () => {
  it('has the server examples', () => {
    expect(CHANNEL_NAME_EXAMPLES.length).toBeGreaterThan(20);
  });
  it.each(CHANNEL_NAME_EXAMPLES)('%j → %j', (input, want) => {
    expect(normalizeChannelName(input)).toBe(want);
  });
});

describe('limits', () => {
  it('come from the server rules', () => {
    expect(MAX_MESSAGE_LENGTH).toBe(4000);
    expect(MAX_CHANNEL_NAME_LENGTH).toBe(64);
  });
});
