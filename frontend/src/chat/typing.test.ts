import { describe, expect, it } from 'vitest';
import { pruneTyping, setTyping, TypingEmitter, typingUserIds, TYPING_TTL_MS, type TypingState } from './typing';
import { formatTyping } from './typingText';

describe('formatTyping', () => {
  it('names one, two, three, or says several', () => {
    expect(formatTyping([])).toBe('');
    expect(formatTyping(['Alice'])).toBe('Alice is typing…');
    expect(formatTyping(['Alice', 'Bob'])).toBe('Alice and Bob are typing…');
    expect(formatTyping(['Alice', 'Bob', 'Carol'])).toBe('Alice, Bob and Carol are typing…');
    expect(formatTyping(['A', 'B', 'C', 'D'])).toBe('Several people are typing…');
  });
});

describe('typing state', () => {
  it('expires without renewal, and stops on typing=false', () => {
    let s: TypingState = new Map();
    s = setTyping(s, 'c', 'alice', true, 0);
    s = setTyping(s, 'c', 'bob', true, 1000);
    expect(typingUserIds(s, 'c', 1000)).toEqual(['alice', 'bob']);
    expect(typingUserIds(s, 'c', TYPING_TTL_MS + 1, 'me')).toEqual(['bob']);
    s = setTyping(s, 'c', 'bob', false, 2000);
    expect(typingUserIds(s, 'c', 2000)).toEqual(['alice']);
    s = pruneTyping(s, TYPING_TTL_MS + 5000);
    expect(s.size).toBe(0);
  });

  it('excludes the current user', () => {
    const s = setTyping(new Map(), 'c', 'me', true, 0);
    expect(typingUserIds(s, 'c', 0, 'me')).toEqual([]);
  });
});

describe('TypingEmitter', () => {
  it('emits typing:start at most once per 2 s and typing:stop on clear', () => {
    let now = 0;
    const events: string[] = [];
    const t = new TypingEmitter((e) => events.push(e), () => now);
    t.input('h');
    now = 500;
    t.input('he');
    now = 1999;
    t.input('hel');
    now = 2000;
    t.input('hell');
    expect(events).toEqual(['typing:start', 'typing:start']);
    t.input('');
    expect(events).toEqual(['typing:start', 'typing:start', 'typing:stop']);
    t.stop(); // already stopped: nothing more
    expect(events).toHaveLength(3);
  });

  it('stop after send, and a fresh start right after', () => {
    const events: string[] = [];
    const t = new TypingEmitter((e) => events.push(e), () => 100);
    t.input('hi');
    t.stop();
    t.input('again');
    expect(events).toEqual(['typing:start', 'typing:stop', 'typing:start']);
  });
});
