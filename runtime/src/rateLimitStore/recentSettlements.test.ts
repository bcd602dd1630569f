/** Budget settlements the store answered lately, sent again to a new connection: by age and by count. */
import { describe, expect, it } from '@jest/globals';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import { RECENT_AT_MOST, RECENT_KEPT_MS, RecentSettlements } from './recentSettlements.ts';
import { settlement } from './settlementFixtures.ts';

const ids = (list: readonly StoreBudgetSettlement[]) => list.map((s) => s.reservationId);

describe('RecentSettlements', () => {
  it('hands back every settlement answered lately, oldest first, and keeps them for the next connection', () => {
    const recent = new RecentSettlements();
    recent.remember([settlement('a'), settlement('b')], 0);
    recent.remember([settlement('c')], 10);
    expect(ids(recent.since(20))).toEqual(['a', 'b', 'c']);
    expect(ids(recent.since(30))).toEqual(['a', 'b', 'c']);
  });

  it('forgets a settlement answered more than two minutes ago', () => {
    const recent = new RecentSettlements();
    recent.remember([settlement('a')], 0);
    recent.remember([settlement('b')], 1);
    expect(ids(recent.since(RECENT_KEPT_MS))).toEqual(['a', 'b']);
    expect(ids(recent.since(RECENT_KEPT_MS + 1))).toEqual(['b']);
    expect(recent.since(RECENT_KEPT_MS + 2)).toEqual([]);
    expect(recent.size).toBe(0);
  });

  it('keeps the newest 20,000 at most', () => {
    const recent = new RecentSettlements();
    for (let i = 0; i < RECENT_AT_MOST + 5; i++) recent.remember([settlement(String(i))], i);
    const kept = recent.since(RECENT_AT_MOST + 5);
    expect(kept).toHaveLength(RECENT_AT_MOST);
    expect(kept[0]?.reservationId).toBe('5');
    expect(kept.at(-1)?.reservationId).toBe(String(RECENT_AT_MOST + 4));
  });

  it('remembers a settlement answered again (it was sent again) once, at its first answer', () => {
    const recent = new RecentSettlements();
    const a = settlement('a');
    recent.remember([a], 0);
    recent.remember([a, settlement('b')], 50);
    expect(ids(recent.since(60))).toEqual(['a', 'b']);
    expect(ids(recent.since(RECENT_KEPT_MS + 1))).toEqual(['b']);
  });
});
