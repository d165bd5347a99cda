import { describe, expect, it } from 'vitest';
import type { User } from '../api/types';
import { MAX_DM_OTHERS, mergeCandidates, toggleUser } from './dmPicker';

const u = (id: string, displayName = '', username = `user${id}`): User => ({ id, username, displayName, avatarUrl: '', createdAt: '' }) as User;

describe('dm picker', () => {
  it('toggles people in and out, at most nine', () => {
    let sel: User[] = [];
    sel = toggleUser(sel, u('1'));
    sel = toggleUser(sel, u('2'));
    expect(sel.map((s) => s.id)).toEqual(['1', '2']);
    sel = toggleUser(sel, u('1'));
    expect(sel.map((s) => s.id)).toEqual(['2']);
    for (let i = 10; i < 30; i++) sel = toggleUser(sel, u(String(i)));
    expect(sel).toHaveLength(MAX_DM_OTHERS);
    expect(toggleUser(sel, u('99'))).toBe(sel);
  });

  it('merges candidates once each, without me, sorted by display name', () => {
    const out = mergeCandidates([[u('me', 'Me'), u('2', 'bob'), u('3', 'Carol')], undefined, [u('2', 'bob'), u('4', 'Alice')]], 'me');
    expect(out.map((x) => x.id)).toEqual(['4', '2', '3']);
    expect(mergeCandidates([[u('1'), u('2'), u('3')]], 'x', 2)).toHaveLength(2);
  });
});
