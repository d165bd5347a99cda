import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_PANEL, clampWidth, readCollapsed, readWidth, visibleWhenCollapsed, widthForKey, writeCollapsed, writeWidth } from './layout';

describe('panel widths', () => {
  afterEach(() => localStorage.clear());
  it('are clamped, remembered, and default when nothing (or nonsense) is stored', () => {
    expect(readWidth(CHANNEL_PANEL)).toBe(240);
    writeWidth(CHANNEL_PANEL, 300.4);
    expect(readWidth(CHANNEL_PANEL)).toBe(300);
    writeWidth(CHANNEL_PANEL, 9999);
    expect(readWidth(CHANNEL_PANEL)).toBe(420);
    localStorage.setItem('parley.layout.channels', 'wide');
    expect(readWidth(CHANNEL_PANEL)).toBe(240);
    expect(clampWidth(CHANNEL_PANEL, 10)).toBe(180);
  });
  it('follow the arrow keys on the separator (Shift: bigger steps), Home and End', () => {
    expect(widthForKey(CHANNEL_PANEL, 240, 'ArrowRight', false, 'ArrowRight')).toBe(256);
    expect(widthForKey(CHANNEL_PANEL, 240, 'ArrowLeft', false, 'ArrowRight')).toBe(224);
    expect(widthForKey(CHANNEL_PANEL, 240, 'ArrowLeft', true, 'ArrowLeft')).toBe(304); // member list: ← widens
    expect(widthForKey(CHANNEL_PANEL, 410, 'ArrowRight', false, 'ArrowRight')).toBe(420);
    expect(widthForKey(CHANNEL_PANEL, 240, 'Home', false, 'ArrowRight')).toBe(180);
    expect(widthForKey(CHANNEL_PANEL, 240, 'End', false, 'ArrowRight')).toBe(420);
    expect(widthForKey(CHANNEL_PANEL, 240, 'Enter', false, 'ArrowRight')).toBeNull();
  });
});

describe('collapsed channel list', () => {
  afterEach(() => localStorage.clear());
  it('is remembered per server', () => {
    writeCollapsed('1', true);
    expect(readCollapsed('1')).toBe(true);
    expect(readCollapsed('2')).toBe(false);
    writeCollapsed('1', false);
    expect(readCollapsed('1')).toBe(false);
  });
  it('keeps the open channel and the unread ones', () => {
    const cs = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    expect(visibleWhenCollapsed(cs, 'b', (c) => c.id === 'c').map((c) => c.id)).toEqual(['b', 'c']);
    expect(visibleWhenCollapsed(cs, null, () => false)).toEqual([]);
  });
});
