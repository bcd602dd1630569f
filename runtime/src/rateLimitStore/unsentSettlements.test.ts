/** Budget settlements the store could not take, kept to be sent again, at most 10,000. */
import { describe, expect, it } from '@jest/globals';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import { UNSENT_AT_MOST, UnsentSettlements } from './unsentSettlements.ts';

const settlement = (id: string): StoreBudgetSettlement => ({
  accounts: [],
  reservationId: id,
  worstPico: 10n,
  worstTokens: 1n,
  costPico: 5n,
  costTokens: 1n,
});

describe('UnsentSettlements', () => {
  it('hands back every settlement kept, oldest first, once', () => {
    const unsent = new UnsentSettlements();
    unsent.keep([settlement('a'), settlement('b')]);
    unsent.keep([settlement('c')]);
    expect(unsent.take().map((s) => s.reservationId)).toEqual(['a', 'b', 'c']);
    expect(unsent.take()).toEqual([]);
  });

  it('drops the oldest past 10,000', () => {
    const unsent = new UnsentSettlements();
    unsent.keep(Array.from({ length: UNSENT_AT_MOST + 2 }, (_, i) => settlement(String(i))));
    const kept = unsent.take();
    expect(kept).toHaveLength(UNSENT_AT_MOST);
    expect(kept[0]?.reservationId).toBe('2');
  });
});
