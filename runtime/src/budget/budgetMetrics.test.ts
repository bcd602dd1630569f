import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { ModelPriceSettings } from '../../../contract/src/policy/policyDocument.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BudgetLedger } from './budgetLedger.ts';
import { BudgetMetrics } from './budgetMetrics.ts';
import { ScrapedMetrics } from '../guard/scrapedMetrics.ts';

/** $1 per million input tokens: a token is a micro-dollar. */
const PRICE: ModelPriceSettings = {
  model: 'test-model',
  inputMicroUsdPerMTok: 1_000_000,
  outputMicroUsdPerMTok: 1_000_000,
  cacheWrite5mMicroUsdPerMTok: 1_000_000,
  cacheWrite1hMicroUsdPerMTok: 1_000_000,
  cacheReadMicroUsdPerMTok: 1_000_000,
};

/** A dollar's Month that refuses. */
const MONTHLY = {
  name: 'monthly',
  period: 'Month',
  limitMicroUsd: 1_000_000,
  per: 'Agent',
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
} as const;

describe('budget metrics', () => {
  it('count a call refused because nothing bounds its cost as reason="unbounded", not unpriced', async () => {
    const ledger = new BudgetLedger({
      name: 'support',
      clock: new ManualClock(Date.parse('2026-11-24T12:00:00Z')),
      spend: { shareOf: 1, timeZone: 'UTC', budgets: [MONTHLY] },
      pricing: [PRICE],
      shareOf: 1,
      leaseMs: 60_000,
    });
    const registry = new Registry();
    new BudgetMetrics(new ScrapedMetrics(registry)).bind(ledger);
    expect(() =>
      ledger.reserve({
        model: 'test-model',
        clientKey: undefined,
        planned: { inputTokens: 10, maxTokens: 1, additions: { unbounded: 'a PDF document' } },
      }),
    ).toThrow(/has no bound/);
    const rejected = (await registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('budget_rejected_total{'));
    expect(rejected).toEqual(
      expect.arrayContaining([
        'budget_rejected_total{name="support",budget="monthly",reason="unbounded"} 1',
        'budget_rejected_total{name="support",budget="monthly",reason="unpriced"} 0',
      ]),
    );
  });

  it('export the spend as its exact decimal total, not a sum of floats', async () => {
    const ledger = new BudgetLedger({
      name: 'support',
      clock: new ManualClock(Date.parse('2026-11-24T12:00:00Z')),
      spend: {
        shareOf: 1,
        timeZone: 'UTC',
        budgets: [MONTHLY],
      },
      pricing: [PRICE],
      shareOf: 1,
      leaseMs: 60_000,
    });
    const registry = new Registry();
    new BudgetMetrics(new ScrapedMetrics(registry)).bind(ledger);
    const spend = async () =>
      (await registry.metrics())
        .split('\n')
        .find((line) => line.startsWith('budget_spend_usd_total{'));
    // $0.1, then $0.2: as floats 0.1 + 0.2 is 0.30000000000000004.
    for (const tokens of [100_000, 200_000]) {
      const ticket = ledger.reserve({
        model: 'test-model',
        clientKey: undefined,
        planned: { inputTokens: tokens, maxTokens: 1 },
      });
      ticket?.note(1, 'default', { inputTokens: tokens, outputTokens: 0 });
      ticket?.settle();
      await spend();
    }
    expect(await spend()).toBe(
      'budget_spend_usd_total{name="support",model="test-model",backend="default"} 0.3',
    );
  });
});
