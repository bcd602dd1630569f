import { describe, expect, it } from '@jest/globals';
import {
  MAX_REPORTED_KEYS,
  decodeBudgetReport,
  encodeBudgetReport,
  type BudgetReport,
} from './budgetReport.ts';

const PERIOD = '2026-11-01T00:00:00.000Z';
const ZERO = { picoUsd: 0n, tokens: 0 };

const report: BudgetReport = {
  source: 'replica',
  budgets: {
    monthly: {
      periodStart: PERIOD,
      spent: { picoUsd: 123_456_789_012_345_678n, tokens: 2310 },
      held: { picoUsd: 5n, tokens: 7 },
    },
    perKey: {
      periodStart: PERIOD,
      spent: { picoUsd: 900n, tokens: 30 },
      held: { picoUsd: 0n, tokens: 0 },
      keys: [
        { key: 'key-aaaa', picoUsd: 600n, tokens: 20 },
        { key: 'key-bbbb', picoUsd: 300n, tokens: 10 },
      ],
      others: { picoUsd: 0n, tokens: 0 },
    },
  },
};

describe('the budgets annotation', () => {
  it('round-trips a report, picodollars beyond a double exactly', () => {
    const text = encodeBudgetReport(report);
    expect(decodeBudgetReport(text)).toEqual(report);
    expect(text).toContain('"usd":"123456789012345678"');
  });

  it('writes the same string for the same report, budgets in name order', () => {
    const reversed: BudgetReport = {
      source: 'replica',
      budgets: Object.fromEntries(Object.entries(report.budgets).reverse()),
    };
    expect(encodeBudgetReport(reversed)).toBe(encodeBudgetReport(report));
    const parsed = JSON.parse(encodeBudgetReport(report)) as { budgets: object };
    expect(Object.keys(parsed.budgets)).toEqual(['monthly', 'perKey']);
  });

  it('names at most the top keys, and stays small for the largest policy', () => {
    const keys = Array.from({ length: 50 }, (_, i) => ({
      key: `key-${String(i).padStart(60, '0')}`,
      picoUsd: 10n ** 20n,
      tokens: 2 ** 40,
    }));
    const budgets = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `budget-${String(i).padStart(50, 'x')}`,
        {
          periodStart: PERIOD,
          spent: { picoUsd: 1n, tokens: 1 },
          held: { picoUsd: 0n, tokens: 0 },
          keys,
          others: { picoUsd: 10n ** 20n, tokens: 1 },
        },
      ]),
    );
    const text = encodeBudgetReport({ source: 'replica', budgets });
    const decoded = decodeBudgetReport(text);
    expect(Object.keys(decoded?.budgets ?? {})).toHaveLength(16);
    for (const entry of Object.values(decoded?.budgets ?? {}))
      expect(entry.keys).toHaveLength(MAX_REPORTED_KEYS);
    expect(text.length).toBeLessThan(16 * 1024);
  });

  it('says whose figures they are: the store holds the agent-wide total', () => {
    const store = { ...report, source: 'store' as const };
    expect(decodeBudgetReport(encodeBudgetReport(store))?.source).toBe('store');
  });

  it("carries a team budget's account as the store held it, with when it was read", () => {
    const team = {
      periodStart: PERIOD,
      readAt: '2026-11-28T13:50:01.000Z',
      spent: { picoUsd: 4_000_000_000_000_000n, tokens: 9000 },
      held: { picoUsd: 12n, tokens: 3 },
    };
    const withTeam: BudgetReport = {
      source: 'replica',
      budgets: {
        team: { periodStart: PERIOD, spent: { picoUsd: 7n, tokens: 1 }, held: ZERO, team },
      },
    };
    expect(decodeBudgetReport(encodeBudgetReport(withTeam))?.budgets.team?.team).toEqual(team);
    // A read that says no time is no read; the budget's own figures stand.
    const text = encodeBudgetReport(withTeam).replace(
      '"at":"2026-11-28T13:50:01.000Z"',
      '"at":"x"',
    );
    const decoded = decodeBudgetReport(text)?.budgets.team;
    expect(decoded?.team).toBeUndefined();
    expect(decoded?.spent).toEqual({ picoUsd: 7n, tokens: 1 });
  });

  it.each([
    ['no annotation', undefined],
    ['an empty one (no budgets)', ''],
    ['not JSON', '{'],
    ['an unknown source', JSON.stringify({ source: 'guess', budgets: {} })],
    ['budgets that are no object', JSON.stringify({ source: 'replica', budgets: [] })],
  ])('reads %s as no report', (_name, value) => {
    expect(decodeBudgetReport(value)).toBeUndefined();
  });

  it.each([
    ['a period that is no time', { p: 'soon', usd: '1', tok: 1, hUsd: '0', hTok: 0 }],
    ['a negative amount', { p: PERIOD, usd: '-1', tok: 1, hUsd: '0', hTok: 0 }],
    ['a float amount', { p: PERIOD, usd: '1.5', tok: 1, hUsd: '0', hTok: 0 }],
    ['no tokens', { p: PERIOD, usd: '1', hUsd: '0', hTok: 0 }],
    ['no held', { p: PERIOD, usd: '1', tok: 1 }],
  ])('skips a budget with %s rather than trusting it', (_name, entry) => {
    const text = JSON.stringify({
      source: 'replica',
      budgets: { bad: entry, good: { p: PERIOD, usd: '1', tok: 1, hUsd: '0', hTok: 0 } },
    });
    expect(Object.keys(decodeBudgetReport(text)?.budgets ?? {})).toEqual(['good']);
  });
});
