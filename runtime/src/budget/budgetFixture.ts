/**
 * The price table and budget the budget tests share: `test-model` at $1 per million input
 * tokens and $5 per million output (cache writes $1.25 and $2, cache reads $0.10), and a Day
 * budget for the whole agent that refuses, each test patching what it is about.
 */
import type {
  BudgetSettings,
  ModelPriceSettings,
} from '../../../contract/src/policy/policyDocument.ts';

/** $1 per million input tokens, $5 per million output. */
export const TEST_MODEL_PRICE: ModelPriceSettings = {
  model: 'test-model',
  inputMicroUsdPerMTok: 1_000_000,
  outputMicroUsdPerMTok: 5_000_000,
  cacheWrite5mMicroUsdPerMTok: 1_250_000,
  cacheWrite1hMicroUsdPerMTok: 2_000_000,
  cacheReadMicroUsdPerMTok: 100_000,
};

/** A Day budget named `daily` for the whole agent: $1, refusing, no wait for held room. */
export function dailyBudget(patch: Partial<BudgetSettings> = {}): BudgetSettings {
  return {
    name: 'daily',
    period: 'Day',
    limitMicroUsd: 1_000_000,
    per: 'Agent',
    onExhausted: 'Refuse',
    warnAtPercent: 80,
    waitForHeldMs: 0,
    ...patch,
  };
}
