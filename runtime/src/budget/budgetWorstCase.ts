/**
 * A call's worst case before it goes (callCost.ts `worstCaseCost`), or its refusal: a model
 * without a price, or a request whose cost nothing bounds, under a dollar budget that is not
 * Shadow. A Shadow dollar budget lets such a call go and counts that it would have refused it.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { worstCaseCost, type PriceBook } from '../../../contract/src/spend/callCost.ts';
import { UnboundedCallError, UnpricedModelError } from '../guard/errors.ts';
import type { BudgetTallies } from './budgetTallies.ts';
import type { BudgetCall } from './budgetTicket.ts';

/**
 * The call's worst case; UnpricedModelError for a model without a price that may not go,
 * UnboundedCallError for a request whose cost nothing bounds.
 */
export function worstCaseOf(
  call: BudgetCall,
  input: {
    readonly budgets: readonly BudgetSettings[];
    readonly book: PriceBook;
    readonly tallies: BudgetTallies;
  },
): { pico: bigint; tokens: bigint } {
  const worst = worstCaseCost(call.model, call.planned, input.book);
  if (!worst.priced) {
    const refusing = input.budgets.find(
      (b) => b.onExhausted !== 'Shadow' && b.limitMicroUsd !== undefined,
    );
    if (refusing !== undefined) {
      input.tallies.refused(refusing.name)[worst.why]++;
      throw worst.why === 'unbounded'
        ? new UnboundedCallError(worst.model, worst.message)
        : new UnpricedModelError(worst.model, worst.message);
    }
    // A Shadow dollar budget lets the call go, uncounted in dollars: it would have refused it.
    for (const b of input.budgets)
      if (b.limitMicroUsd !== undefined) input.tallies.refused(b.name).shadow++;
  }
  return { pico: worst.priced ? worst.picoUsd : 0n, tokens: BigInt(worst.tokens) };
}
