import { describe, expect, it } from 'vitest';
import { ENCRYPTED_LABEL, plaintextOf, plaintextsVersion, setPlaintext, shownText, subscribePlaintexts } from './plaintexts';

describe('plaintexts of encrypted messages', () => {
  it('shows the decrypted text when this browser has it, the label otherwise, never the ciphertext', () => {
    const ct = btoa('\x00\x01 an MLS private message, sealed with its own tag....');
    expect(shownText({ content: ct, encrypted: true })).toBe(ENCRYPTED_LABEL);
    expect(plaintextOf({ content: ct, encrypted: true })).toBeUndefined();
    let calls = 0;
    const off = subscribePlaintexts(() => calls++);
    const v = plaintextsVersion();
    setPlaintext(ct, 'meet at the quince tree');
    setPlaintext(ct, 'meet at the quince tree'); // the same again: no change
    off();
    expect(calls).toBe(1);
    expect(plaintextsVersion()).toBe(v + 1);
    expect(shownText({ content: ct, encrypted: true })).toBe('meet at the quince tree');
    // An edit is new ciphertext: not shown with the old text.
    expect(shownText({ content: ct.slice(0, -4) + 'AAAA', encrypted: true })).toBe(ENCRYPTED_LABEL);
    // Plain messages are themselves.
    expect(shownText({ content: 'hello' })).toBe('hello');
  });
});
