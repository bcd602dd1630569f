/** A budget settlement for the settlement lists' tests: named by its reservation, nothing else. */
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';

export const settlement = (id: string): StoreBudgetSettlement => ({
  accounts: [],
  reservationId: id,
  worstPico: 10n,
  worstTokens: 1n,
  costPico: 5n,
  costTokens: 1n,
});
