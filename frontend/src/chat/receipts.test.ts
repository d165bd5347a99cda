import { describe, expect, it } from 'vitest';
import { applyReceipt } from './messageEdits';
import { emptyReceipts, receiptStatus } from './receipts';

describe('receipts', () => {
  it('moves sent → delivered → seen, monotonically', () => {
    let r = emptyReceipts;
    expect(receiptStatus('10', ['bob'], r)).toBe('sent');
    r = applyReceipt(r, 'delivered', { channelId: 'c', userId: 'bob', messageId: '10' });
    expect(receiptStatus('10', ['bob'], r)).toBe('delivered');
    expect(receiptStatus('11', ['bob'], r)).toBe('sent');
    r = applyReceipt(r, 'read', { channelId: 'c', userId: 'bob', messageId: '12' });
    expect(receiptStatus('10', ['bob'], r)).toBe('seen');
    expect(receiptStatus('12', ['bob'], r)).toBe('seen');
    // An older receipt does not move it back.
    const same = applyReceipt(r, 'read', { channelId: 'c', userId: 'bob', messageId: '9' });
    expect(same).toBe(r);
  });

  it('needs every other participant in a group DM', () => {
    let r = applyReceipt(emptyReceipts, 'read', { channelId: 'c', userId: 'bob', messageId: '5' });
    expect(receiptStatus('5', ['bob', 'carol'], r)).toBe('sent');
    r = applyReceipt(r, 'delivered', { channelId: 'c', userId: 'carol', messageId: '5' });
    expect(receiptStatus('5', ['bob', 'carol'], r)).toBe('delivered');
  });

  it('trusts the read flag from history', () => {
    expect(receiptStatus('5', ['bob'], emptyReceipts, true)).toBe('seen');
  });
});
