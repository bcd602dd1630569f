import { describe, expect, it } from '@jest/globals';
import { SessionTable, type HeldSession } from './sessionTable.ts';

const session = (owner: string, n: number): HeldSession => ({ id: `${owner}-${String(n)}`, owner });

function filled(capacity: number, opens: readonly string[]): SessionTable<HeldSession> {
  const table = new SessionTable<HeldSession>(capacity);
  const counts = new Map<string, number>();
  for (const owner of opens) {
    const n = (counts.get(owner) ?? 0) + 1;
    counts.set(owner, n);
    table.add(session(owner, n));
  }
  return table;
}

describe('SessionTable', () => {
  it("never closes another caller's session for a caller that opens sessions without end", () => {
    const table = filled(10, ['alice', ...Array<string>(1_005).fill('bob')]);
    expect(table.get('alice-1')).toBeDefined();
    expect(table.size).toBe(10);
    // Bob's newest nine are held; his older ones made room for them.
    expect(table.get('bob-1005')).toBeDefined();
    expect(table.get('bob-997')).toBeDefined();
    expect(table.get('bob-996')).toBeUndefined();
  });

  it.each([
    ['the oldest of all, when every session is one caller’s', ['open', 'open', 'open'], 'open-1'],
    ['the oldest of the caller holding the most', ['a', 'b', 'b'], 'b-1'],
    ['the first such caller’s oldest, when two hold as many', ['a', 'b', 'a', 'b'], 'a-1'],
  ])('makes room, when full, by closing %s', (_name, opens, closed) => {
    const table = filled(opens.length, opens);
    const displaced = table.add(session('new', 1));
    expect(displaced?.id).toBe(closed);
    expect(table.get(closed)).toBeUndefined();
    expect(table.size).toBe(opens.length);
  });

  it('closes nothing while there is room, and forgets a deleted session for good', () => {
    const table = filled(3, ['a', 'b']);
    expect(table.add(session('c', 1))).toBeUndefined();
    table.delete('b-1');
    table.delete('b-1');
    expect(table.size).toBe(2);
    // b no longer holds any: a new session displaces nothing.
    expect(table.add(session('d', 1))).toBeUndefined();
    expect(table.clear().map((s) => s.id)).toEqual(['a-1', 'c-1', 'd-1']);
    expect(table.size).toBe(0);
  });
});
