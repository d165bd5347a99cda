import { afterEach, describe, expect, it } from 'vitest';
import { clearDrafts, draftKey, loadDraft, saveDraft } from './drafts';

describe('drafts', () => {
  afterEach(() => localStorage.clear());

  it('are kept per user and channel in localStorage, and removed when emptied', () => {
    saveDraft('u1', 'c1', 'hello');
    saveDraft('u1', 'c2', 'other channel');
    saveDraft('u2', 'c1', 'other user');
    expect(localStorage.getItem(draftKey('u1', 'c1'))).toBe('hello');
    expect(loadDraft('u1', 'c1')).toBe('hello');
    expect(loadDraft('u1', 'c2')).toBe('other channel');
    expect(loadDraft('u2', 'c1')).toBe('other user');
    expect(loadDraft('u1', 'c3')).toBe('');
    saveDraft('u1', 'c1', '');
    expect(localStorage.getItem(draftKey('u1', 'c1'))).toBeNull();
    expect(loadDraft('u1', 'c1')).toBe('');
  });

  it('clearDrafts drops one user\'s drafts only', () => {
    saveDraft('u1', 'c1', 'a');
    saveDraft('u1', 'c2', 'b');
    saveDraft('u10', 'c1', 'not u1');
    localStorage.setItem('parley.session', 'keep');
    clearDrafts('u1');
    expect(loadDraft('u1', 'c1')).toBe('');
    expect(loadDraft('u1', 'c2')).toBe('');
    expect(loadDraft('u10', 'c1')).toBe('not u1');
    expect(localStorage.getItem('parley.session')).toBe('keep');
  });
});
