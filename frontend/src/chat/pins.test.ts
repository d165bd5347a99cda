import { describe, expect, it } from 'vitest';
import { msg } from '../test/fixtures';
import { applyPinUpdate, pinsRemove, pinsUpdateMessage } from './messageEdits';
import { canPin, pinnedIds } from './pins';

const ev = (messageId: string, pinned: boolean) => ({ channelId: 'c1', messageId, userId: 'u1', pinned });

describe('pins', () => {
  it('pin:update puts a newly pinned message first, and removes an unpinned one', () => {
    const data = { messages: [msg('2'), msg('1')] };
    const pinned = applyPinUpdate(data, ev('3', true), msg('3'))!;
    expect(pinned.refetch).toBe(false);
    expect(pinned.data.messages.map((m) => m.id)).toEqual(['3', '2', '1']);
    // Pinned again (another tab's event): moves to the top, no duplicate.
    expect(applyPinUpdate(pinned.data, ev('1', true), msg('1'))!.data.messages.map((m) => m.id)).toEqual(['1', '3', '2']);
    const unpinned = applyPinUpdate(pinned.data, ev('2', false))!;
    expect(unpinned.data.messages.map((m) => m.id)).toEqual(['3', '1']);
    expect(applyPinUpdate(unpinned.data, ev('2', false))!.data).toBe(unpinned.data);
  });

  it('a pin of a message we do not hold asks for a refetch; no list yet: nothing to do', () => {
    const data = { messages: [msg('2')] };
    expect(applyPinUpdate(data, ev('9', true))).toEqual({ data, refetch: true });
    expect(applyPinUpdate(data, ev('2', true))).toEqual({ data, refetch: false });
    expect(applyPinUpdate(undefined, ev('9', true))).toBeNull();
  });

  it('follows edits and deletes; pinned ids; who may pin', () => {
    const data = { messages: [msg('2'), msg('1')] };
    expect(pinsUpdateMessage(data, msg('1', { content: 'edited' }))!.messages[1].content).toBe('edited');
    expect(pinsUpdateMessage(data, msg('5'))).toBe(data);
    expect(pinsRemove(data, '2')!.messages.map((m) => m.id)).toEqual(['1']);
    expect(pinsRemove(data, '5')).toBe(data);
    expect([...pinnedIds(data)]).toEqual(['2', '1']);
    expect(canPin('dm')).toBe(true);
    expect(canPin('server', 'owner')).toBe(true);
    expect(canPin('server', 'admin')).toBe(true);
    expect(canPin('server', 'member')).toBe(false);
    expect(canPin('server', undefined)).toBe(false);
  });
});
