import { describe, expect, it } from '@jest/globals';
import { PinTable } from './pinTable.ts';

describe('PinTable', () => {
  it('finds the first live pin in the order of the keys', () => {
    const table = new PinTable(10);
    table.set(1, { backend: 'a', expiresAt: 100 });
    table.set(2, { backend: 'b', expiresAt: 100 });
    expect(table.find([3, 1, 2], 0)).toEqual({
      key: 1,
      pin: { backend: 'a', expiresAt: 100 },
    });
  });

  it('drops a pin once it has expired', () => {
    const table = new PinTable(10);
    table.set(7, { backend: 'a', expiresAt: 100 });
    expect(table.find([7], 100)).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it('replaces the key a pin was found under with the new one', () => {
    const table = new PinTable(10);
    table.set(11, { backend: 'a', expiresAt: 100 });
    table.set(12, { backend: 'a', expiresAt: 200 }, 11);
    expect(table.size).toBe(1);
    expect(table.find([11], 0)).toBeUndefined();
  });

  it('holds at most its bound, dropping the least recently used', () => {
    const table = new PinTable(3);
    for (const key of ['a', 'b', 'c'])
      table.set(key.charCodeAt(0), { backend: key, expiresAt: 100 });
    table.set(97, { backend: 'a', expiresAt: 200 });
    table.set(100, { backend: 'd', expiresAt: 100 });
    expect(table.size).toBe(3);
    expect(table.find([98], 0)).toBeUndefined();
    expect(table.find([97], 0)?.pin.backend).toBe('a');
  });

  it.each([0, -1, 1.5])('refuses a bound of %d', (bound) => {
    expect(() => new PinTable(bound)).toThrow(/capacity/);
  });
});
