import { afterEach, describe, expect, it } from 'vitest';
import { ownStatus, readStatusHint, wireStatus, writeStatusHint } from './status';

describe('chosen status', () => {
  afterEach(() => localStorage.clear());
  it('online follows activity; any other choice is said as is', () => {
    expect(wireStatus('online', false)).toBe('online');
    expect(wireStatus('online', true)).toBe('idle');
    expect(wireStatus('dnd', true)).toBe('dnd');
    expect(wireStatus('invisible', false)).toBe('invisible');
  });
  it('my own dot: offline while disconnected, else the choice', () => {
    expect(ownStatus('dnd', false, false)).toBe('offline');
    expect(ownStatus('invisible', false, true)).toBe('invisible');
    expect(ownStatus('online', true, true)).toBe('idle');
  });
  it('the device remembers the last choice per user for the next handshake', () => {
    expect(readStatusHint('1')).toBe('online');
    writeStatusHint('1', 'invisible');
    expect(readStatusHint('1')).toBe('invisible');
    expect(readStatusHint('2')).toBe('online');
    writeStatusHint('1', 'online');
    expect(localStorage.getItem('parley.status.1')).toBeNull();
    localStorage.setItem('parley.status.1', 'nonsense');
    expect(readStatusHint('1')).toBe('online');
  });
});
