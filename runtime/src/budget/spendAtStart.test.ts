import { describe, expect, it } from '@jest/globals';
import { budgetReportOf, rememberedSpend } from './spendAtStart.ts';

const DAY = '2026-11-24T00:00:00.000Z';

describe('what a starting replica counts as spent', () => {
  it('is everything the ledger holds this period: gone processes, running ones and their calls in flight', () => {
    const seeds = rememberedSpend({
      status: {
        spend: {
          ledger: {
            baseline: [{ budget: 'daily', periodStart: DAY, picoUsd: '700', tokens: 7 }],
            processes: [
              {
                pod: 'a',
                started: 't',
                budgets: [
                  {
                    budget: 'daily',
                    periodStart: DAY,
                    picoUsd: '100',
                    tokens: 1,
                    heldPicoUsd: '50',
                    heldTokens: 5,
                  },
                ],
              },
            ],
          },
        },
      },
    });
    expect(seeds).toEqual([
      expect.objectContaining({
        budget: 'daily',
        periodStartMs: Date.parse(DAY),
        whole: { picoUsd: 850n, tokens: 13n },
      }),
    ]);
  });

  it('is nothing when the status has no ledger (a new agent, or an older operator)', () => {
    expect(rememberedSpend(undefined)).toEqual([]);
    expect(rememberedSpend({ status: {} })).toEqual([]);
  });
});

describe('the pod report of a ledger', () => {
  it('is absent without budgets, and this replica’s own figures with them', () => {
    expect(budgetReportOf([])).toBeUndefined();
    const report = budgetReportOf([
      {
        budget: 'daily',
        period: { startMs: Date.parse(DAY), endMs: Date.parse(DAY) + 86_400_000 },
        limit: { picoUsd: 10n, tokens: undefined },
        warnAtPercent: 80,
        spent: { picoUsd: 5n, tokens: 2n },
        held: { picoUsd: 0n, tokens: 0n },
      },
    ]);
    expect(report).toEqual({
      source: 'replica',
      budgets: {
        daily: {
          periodStart: DAY,
          spent: { picoUsd: 5n, tokens: 2 },
          held: { picoUsd: 0n, tokens: 0 },
        },
      },
    });
  });
});
