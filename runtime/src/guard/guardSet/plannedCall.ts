import type { PlannedCall } from '../../../../contract/src/spend/callCost.ts';
import type { BudgetRequest, TokenEstimate } from './providerGuard.ts';

/**
 * A call's worst case as budgets price it: its input at most, what the provider adds, and
 * `max_tokens` of output;
 * undefined for a call that produces none (counting tokens).
 */
export function plannedCall(
  estimate: TokenEstimate | undefined,
  budget: BudgetRequest | undefined,
): PlannedCall | undefined {
  const inputTokens = budget?.inputTokensAtMost ?? estimate?.inputTokens;
  const maxTokens = budget?.maxTokens ?? estimate?.outputTokens;
  if (inputTokens === undefined || maxTokens === undefined) return undefined;
  const cacheWrite = budget?.cacheWrite;
  const additions = budget?.additions;
  if (cacheWrite === undefined && additions === undefined) return { inputTokens, maxTokens };
  return {
    inputTokens,
    maxTokens,
    ...(cacheWrite === undefined ? {} : { cacheWrite }),
    ...(additions === undefined ? {} : { additions }),
  };
}
