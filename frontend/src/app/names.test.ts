import { describe, expect, it } from 'vitest';
import { ownAvatar } from '../components/ui';
import { displayName, usernameHint } from './queries';

describe('names that cannot disguise themselves', () => {
  it('drops bidi controls, direction marks and invisible spaces from display names (stored before the server refused them)', () => {
    expect(displayName({ username: 'mallory', displayName: '\u202Erenwo' })).toBe('renwo');
    expect(displayName({ username: 'mallory', displayName: 'ow\u200Bner\u2066' })).toBe('owner');
    expect(displayName({ username: 'mallory', displayName: '\u200F\u200B ' })).toBe('mallory');
    expect(displayName({ username: 'sami', displayName: 'سامي' })).toBe('سامي'); // right-to-left text itself stays
    expect(displayName({ username: 'dev', displayName: '👩‍💻' })).toBe('👩‍💻'); // zero-width joiners stay
  });

  it('hints the username whenever the shown name is not the username', () => {
    expect(usernameHint({ username: 'mallory', displayName: 'owner' })).toBe('@mallory');
    expect(usernameHint({ username: 'owner', displayName: 'Owner' })).toBeNull();
    expect(usernameHint({ username: 'owner', displayName: '' })).toBeNull();
    expect(usernameHint(undefined)).toBeNull();
  });
});

describe('avatars', () => {
  it('only ever loads avatars stored by Parley, on its own origin', () => {
    expect(ownAvatar('/avatars/abc.png')).toBe('/avatars/abc.png');
    for (const foreign of ['https://evil.example/a.png', 'http://10.0.0.1/x', '//evil.example/a.png', '/avatars/../api/x', 'data:image/png;base64,AA', '']) {
      expect(ownAvatar(foreign)).toBeNull();
    }
  });
});
