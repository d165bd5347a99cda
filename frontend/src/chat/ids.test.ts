import { describe, expect, it } from 'vitest';
import { compareIds, maxId } from './ids';

describe('compareIds', () => {
  it('orders by numeric value without Number precision loss', () => {
    // These two differ only beyond 2^53: Number() would call them equal.
    const a = '9007199254740993';
    const b = '9007199254740992';
    expect(Number(a)).toBe(Number(b));
    expect(compareIds(a, b)).toBe(1);
    expect(compareIds(b, a)).toBe(-1);
    expect(compareIds(a, a)).toBe(0);
  });

  it('compares by length first', () => {
    expect(compareIds('99', '100')).toBe(-1);
    expect(compareIds('1000000000000000000', '999999999999999999')).toBe(1);
  });

  it('sorts a mixed list ascending', () => {
    const ids = ['1839473628374650881', '17', '1839473628374650880', '9223372036854775807', '200'];
    expect([...ids].sort(compareIds)).toEqual(['17', '200', '1839473628374650880', '1839473628374650881', '9223372036854775807']);
  });

  it('ignores leading zeros', () => {
    expect(compareIds('007', '7')).toBe(0);
  });

  it('maxId treats null as smallest', () => {
    expect(maxId(null, '5')).toBe('5');
    expect(maxId('12', '9')).toBe('12');
    expect(maxId(undefined, undefined)).toBeNull();
  });
});
