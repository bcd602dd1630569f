import { describe, expect, it } from '@jest/globals';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { PlannedCall } from '../../../contract/src/spend/callCost.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BudgetLedger } from './budgetLedger.ts';
import { isUnboundedCallError } from '../guard/errors.ts';
import type { TokenUsage } from '../guard/tokenBudget.ts';
import { TEST_MODEL_PRICE, dailyBudget } from './budgetFixture.ts';

const DAILY = dailyBudget({ limitMicroUsd: 10_000_000, waitForHeldMs: 5000 });
/**
 * 1,000 tokens in and 100 out, and up to three web searches, each's results counted at 200
 * input tokens: 10⁹ + 5 × 10⁸ + 3 × 10¹⁰ + 6 × 10⁸.
 */
const PLANNED: PlannedCall = {
  inputTokens: 1_000,
  maxTokens: 100,
  additions: { serverToolUses: { web_search: 3 }, webSearchResultTokens: 200 },
};
/** Three searches' results at 200 input tokens each, $1 per million. */
const RESULTS = 600_000_000n;
const WORST = 1_000_000_000n + 500_000_000n + 30_000_000_000n + RESULTS;

/** What one call spends once its attempts' usage is noted and it settles. */
function spentAfter(attempts: readonly TokenUsage[]): bigint | undefined {
  const ledger = new BudgetLedger({
    name: 'agent',
    clock: new ManualClock(Date.parse('2026-11-27T12:00:00Z')),
    spend: { shareOf: 1, timeZone: 'UTC', budgets: [DAILY] },
    pricing: [TEST_MODEL_PRICE],
    shareOf: 1,
    leaseMs: 60_000,
  });
  const ticket = ledger.reserve({ model: 'test-model', planned: PLANNED });
  if (ticket === undefined) throw new Error('expected a reservation');
  attempts.forEach((usage, i) => {
    ticket.note(i + 1, 'primary', usage);
  });
  ticket.settle();
  return ledger.account('daily')?.spentPico;
}

describe('what a call settles at', () => {
  it.each([
    [
      'its usage, each web search at $10 per thousand',
      [{ inputTokens: 100, outputTokens: 10, webSearchRequests: 2 }],
      100_000_000n + 50_000_000n + 20_000_000_000n,
    ],
    [
      'its worst case when the provider said nothing of what it billed',
      [{ inputTokens: 0, outputTokens: 0, unknown: 'all' as const }],
      WORST,
    ],
    [
      "its usage so far, its server tools at their most uses and their results at the policy's figure for a stream cut before its final usage",
      [{ inputTokens: 100, outputTokens: 10, webSearchRequests: 1, unknown: 'fees' as const }],
      100_000_000n + 50_000_000n + 30_000_000_000n + RESULTS,
    ],
    [
      'no more output than max_tokens for a stream cut before its final usage, whatever its bytes',
      [{ inputTokens: 100, outputTokens: 5_000, unknown: 'fees' as const }],
      100_000_000n + 500_000_000n + 30_000_000_000n + RESULTS,
    ],
    [
      'all of max_tokens of output for a stream that relayed thinking, cut before its final usage',
      [{ inputTokens: 100, outputTokens: 20, unknown: 'output' as const }],
      100_000_000n + 500_000_000n + 30_000_000_000n + RESULTS,
    ],
    [
      'each attempt: one timed out unheard at its worst case, the retry at its usage',
      [
        { inputTokens: 0, outputTokens: 0, unknown: 'all' as const },
        { inputTokens: 100, outputTokens: 10 },
      ],
      WORST + 100_000_000n + 50_000_000n,
    ],
  ])('%s', (_name, attempts, spent) => {
    expect(spentAfter(attempts)).toBe(spent);
  });
});

describe('a call whose cost has no bound', () => {
  const unbounded: PlannedCall = {
    inputTokens: 1_000,
    maxTokens: 100,
    additions: {
      unbounded: 'server tool web_search has no max_uses: set max_uses to bound its fees',
    },
  };
  const ledgerWith = (onExhausted: BudgetSettings['onExhausted']) =>
    new BudgetLedger({
      name: 'agent',
      clock: new ManualClock(Date.parse('2026-11-27T12:00:00Z')),
      spend: { shareOf: 1, timeZone: 'UTC', budgets: [{ ...DAILY, onExhausted }] },
      pricing: [TEST_MODEL_PRICE],
      shareOf: 1,
      leaseMs: 60_000,
    });

  it('is refused under Refuse, saying what to set', () => {
    expect(() => ledgerWith('Refuse').reserve({ model: 'test-model', planned: unbounded })).toThrow(
      /set max_uses to bound its fees/,
    );
  });

  it('is refused as unbounded, not unpriced: its own error, code and refusal reason', () => {
    const ledger = ledgerWith('Refuse');
    let refusal: unknown;
    try {
      ledger.reserve({ model: 'test-model', planned: unbounded });
    } catch (err) {
      refusal = err;
    }
    expect(isUnboundedCallError(refusal) && refusal.code).toBe('UNBOUNDED_CALL');
    expect(ledger.refusals().get('daily')).toMatchObject({ unbounded: 1, unpriced: 0 });
  });

  it.each(['Refuse', 'Fallback'] as const)(
    'with web_search and no webSearchResultTokens, is refused under %s, naming the field',
    (onExhausted) => {
      const searching: PlannedCall = {
        inputTokens: 1_000,
        maxTokens: 100,
        additions: { serverToolUses: { web_search: 3 } },
      };
      expect(() =>
        ledgerWith(onExhausted).reserve({ model: 'test-model', planned: searching }),
      ).toThrow(/web_search results .* set RateLimitPolicy spec\.webSearchResultTokens/);
    },
  );

  it('with web_search and no webSearchResultTokens, goes under Shadow and settles what it reported', () => {
    const ledger = ledgerWith('Shadow');
    const ticket = ledger.reserve({
      model: 'test-model',
      planned: {
        inputTokens: 1_000,
        maxTokens: 100,
        additions: { serverToolUses: { web_search: 3 } },
      },
    });
    ticket?.note(1, 'primary', { inputTokens: 900, outputTokens: 10, webSearchRequests: 2 });
    ticket?.settle();
    expect(ledger.account('daily')?.spentPico).toBe(900_000_000n + 50_000_000n + 20_000_000_000n);
  });

  it('goes under Shadow, and what it reported is counted', () => {
    const ledger = ledgerWith('Shadow');
    const ticket = ledger.reserve({ model: 'test-model', planned: unbounded });
    ticket?.note(1, 'primary', { inputTokens: 100, outputTokens: 10, webSearchRequests: 4 });
    ticket?.settle();
    expect(ledger.account('daily')?.spentPico).toBe(100_000_000n + 50_000_000n + 40_000_000_000n);
  });
});
