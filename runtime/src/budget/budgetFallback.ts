/**
 * Budgets with `onExhausted: Fallback` send a call they refuse to a cheaper model: the router
 * tries the models the ledger orders here, cheapest worst case first, and tells the ledger what
 * became of the call (BudgetTallies.fellBack).
 */
import {
  worstCaseCost,
  type PlannedCall,
  type PriceBook,
} from '../../../contract/src/spend/callCost.ts';

/**
 * What each model's worst case would be, cheapest first; models without a price are left
 * out (Fallback serves the cheapest fallback that fits).
 */
export function cheapestFirst(
  models: readonly string[],
  planned: PlannedCall,
  book: PriceBook,
): string[] {
  const priced: { model: string; pico: bigint }[] = [];
  for (const model of models) {
    const worst = worstCaseCost(model, planned, book);
    if (worst.priced) priced.push({ model, pico: worst.picoUsd });
  }
  priced.sort((a, b) => (a.pico < b.pico ? -1 : a.pico > b.pico ? 1 : 0));
  return priced.map((p) => p.model);
}
