/** Budget settlements the store could not take, kept to be sent again: at most 10,000, for 30 minutes. */
import { describe, expect, it } from '@jest/globals';
import { UNSENT_AT_MOST, UNSENT_KEPT_MS, UnsentSettlements } from './unsentSettlements.ts';
import { settlement } from './settlementFixtures.ts';

describe('UnsentSettlements', () => {
  it('hands back every settlement kept, oldest first, once', () => {
    const unsent = new UnsentSettlements();
    unsent.keep([settlement('a'), settlement('b')], 0);
    unsent.keep([settlement('c')], 10);
    expect(unsent.take(20).map((s) => s.reservationId)).toEqual(['a', 'b', 'c']);
    expect(unsent.take(20)).toEqual([]);
  });

  it('drops the oldest past 10,000', () => {
    const unsent = new UnsentSettlements();
    unsent.keep(
      Array.from({ length: UNSENT_AT_MOST + 2 }, (_, i) => settlement(String(i))),
      0,
    );
    const kept = unsent.take(0);
    expect(kept).toHaveLength(UNSENT_AT_MOST);
    expect(kept[0]?.reservationId).toBe('2');
  });

  it('never sends one again once the store may have forgotten it: 30 minutes from its first failure', () => {
    const unsent = new UnsentSettlements();
    const a = settlement('a');
    unsent.keep([a], 0);
    // Sent again, and failed again: it keeps its first time.
    expect(unsent.take(UNSENT_KEPT_MS - 1)).toEqual([a]);
    unsent.keep([a, settlement('b')], UNSENT_KEPT_MS - 1);
    expect(unsent.take(UNSENT_KEPT_MS + 1).map((s) => s.reservationId)).toEqual(['b']);
    expect(unsent.expired).toBe(1);
  });
});
