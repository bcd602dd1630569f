import { describe, expect, it } from '@jest/globals';
import { TokenBudget } from './tokenBudget.ts';

describe('TokenBudget', () => {
  it('admits a call whose estimate fits both budgets', () => {
    const budget = new TokenBudget(60_000, 6_000, 0);
    expect(budget.waitFor({ inputTokens: 1_000, outputTokens: 1_000 }, 0)).toBe(0);
  });

  it.each<[string, number, number, 'inputTokens' | 'outputTokens']>([
    // estimate after 59k input and 5.9k output were reserved; budgets refill 1000 and 100 per second
    ['waits for the input budget to refill', 2_000, 0, 'inputTokens'],
    ['waits for the output budget when max_tokens does not fit', 0, 600, 'outputTokens'],
  ])('%s', (_name, inputTokens, outputTokens, limitedBy) => {
    const budget = new TokenBudget(60_000, 6_000, 0);
    budget.reserve({ inputTokens: 59_000, outputTokens: 5_900 });
    const wait = budget.waitFor({ inputTokens, outputTokens }, 0);
    expect(wait).toBe(1_000 * (limitedBy === 'inputTokens' ? 1 : 5));
    expect(budget.limitedBy).toBe(limitedBy);
  });

  it('gives back what a call reserved but did not use', () => {
    const budget = new TokenBudget(undefined, 6_000, 0);
    const estimate = { inputTokens: 100, outputTokens: 4_096 };
    budget.reserve(estimate);
    budget.settle(estimate, { inputTokens: 100, outputTokens: 96 });
    expect(budget.available(0).outputTokens).toBe(6_000 - 96);
  });

  it('charges what a call used beyond its estimate', () => {
    const budget = new TokenBudget(10_000, undefined, 0);
    const estimate = { inputTokens: 1_000, outputTokens: 0 };
    budget.reserve(estimate);
    budget.settle(estimate, { inputTokens: 3_000, outputTokens: 0 });
    expect(budget.available(0).inputTokens).toBe(7_000);
  });

  it('lets a single call larger than the budget through once the budget is full', () => {
    const budget = new TokenBudget(1_000, undefined, 0);
    expect(budget.waitFor({ inputTokens: 5_000, outputTokens: 0 }, 0)).toBe(0);
  });

  it('keeps what is left when the budget changes, capped at the new size', () => {
    const budget = new TokenBudget(60_000, 60_000, 0);
    budget.reserve({ inputTokens: 50_000, outputTokens: 0 });
    budget.reconfigure(30_000, 10_000, 0);
    expect(budget.available(0)).toEqual({ inputTokens: 10_000, outputTokens: 10_000 });
  });
});
