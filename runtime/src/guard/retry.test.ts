import { describe, expect, it } from '@jest/globals';
import type { Classification } from './classification.ts';
import { seededRandom } from '../../../platform/src/random/random.ts';
import { fullJitterDelay, NO_RETRY, RetryPolicy, type RetryOptions } from './retry.ts';
import { RETRY_BUDGET, RetryBudget, type RetryBudgetOptions } from './retryBudget.ts';
import { retrySettings } from './settingsFixture.ts';

const OVERLOADED: Classification = { outcome: 'Overloaded', retryable: true };
const always = (value: number) => () => value;

function policy(
  input: Partial<RetryOptions>,
  random = always(0.5),
  budget: RetryBudgetOptions = RETRY_BUDGET,
) {
  return new RetryPolicy(retrySettings(input), random, 0, budget);
}

describe('fullJitterDelay', () => {
  it.each<[string, number, number, number]>([
    // retry number, random value, expected delay (initial 500, max 8000)
    ['the first retry waits up to the initial delay', 1, 0.999, 499],
    ['each retry doubles the range', 3, 0.5, 1_000],
    ['the range stops growing at maxDelay', 10, 0.5, 4_000],
    ['a draw of 0 waits nothing', 4, 0, 0],
  ])('%s', (_name, retry, draw, expected) => {
    const options = retrySettings({ initialDelayMs: 500, maxDelayMs: 8_000 });
    expect(fullJitterDelay(retry, options, always(draw))).toBe(expected);
  });

  it('spreads delays across the whole range', () => {
    const random = seededRandom(7);
    const options = retrySettings({ initialDelayMs: 1_000 });
    const delays = Array.from({ length: 1_000 }, () => fullJitterDelay(2, options, random));
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(1_900);
  });
});

describe('RetryPolicy', () => {
  it.each<[string, Classification, number, Partial<RetryOptions>, number | 'none', string]>([
    ['retries a 529 with backoff', OVERLOADED, 1, {}, 250, ''],
    [
      'never retries a client error',
      { outcome: 'ClientError', retryable: false },
      1,
      {},
      'none',
      'notRetryable',
    ],
    [
      'never retries a spend-limit 429',
      { outcome: 'SpendLimited', retryable: false, status: 429 },
      1,
      {},
      'none',
      'notRetryable',
    ],
    ['stops at maxAttempts', OVERLOADED, 3, { maxAttempts: 3 }, 'none', 'attemptsExhausted'],
    [
      'waits at least what retry-after says',
      { outcome: 'RateLimited', retryable: true, retryAfterMs: 5_000 },
      1,
      {},
      5_000,
      '',
    ],
    [
      'ignores retry-after when told to',
      { outcome: 'RateLimited', retryable: true, retryAfterMs: 5_000 },
      1,
      { honorRetryAfter: false },
      250,
      '',
    ],
    [
      'gives up on a retry-after longer than maxRetryAfter',
      { outcome: 'RateLimited', retryable: true, retryAfterMs: 120_000 },
      1,
      {},
      'none',
      'retryAfterTooLong',
    ],
  ])('%s', (_name, c, attempt, options, expected, reason) => {
    const p = policy(options);
    const delay = p.nextDelay(c, attempt, 0);
    expect(delay).toBe(expected === 'none' ? NO_RETRY : expected);
    if (reason !== '') expect(p.lastRefusal).toBe(reason);
  });

  it('stops retrying when the budget is spent, whatever maxAttempts says', () => {
    const p = policy({ maxAttempts: 10 }, always(0.5), {
      percent: 0,
      minPerSecond: 0,
      maxBurst: 2,
    });
    expect(p.nextDelay(OVERLOADED, 1, 0)).not.toBe(NO_RETRY);
    expect(p.nextDelay(OVERLOADED, 1, 0)).not.toBe(NO_RETRY);
    expect(p.nextDelay(OVERLOADED, 1, 0)).toBe(NO_RETRY);
    expect(p.lastRefusal).toBe('budgetExhausted');
  });
});

describe('RetryBudget', () => {
  it('bounds retries during an outage to about percent of the traffic', () => {
    const budget = new RetryBudget({ percent: 20, minPerSecond: 0, maxBurst: 10 }, 0);
    let retries = 0;
    for (let i = 0; i < 1_000; i++) {
      budget.deposit();
      // every call fails and would like to retry twice
      if (budget.tryWithdraw(0)) retries++;
      if (budget.tryWithdraw(0)) retries++;
    }
    expect(retries).toBeLessThanOrEqual(10 + 200);
    expect(retries).toBeGreaterThanOrEqual(200);
  });

  it('still lets a quiet agent retry, at minPerSecond', () => {
    const budget = new RetryBudget({ percent: 0, minPerSecond: 1, maxBurst: 1 }, 0);
    expect(budget.tryWithdraw(0)).toBe(true);
    expect(budget.tryWithdraw(500)).toBe(false);
    expect(budget.tryWithdraw(1_000)).toBe(true);
  });

  it('keeps its balance across a reconfiguration, capped at the new maxBurst', () => {
    const budget = new RetryBudget({ ...RETRY_BUDGET, maxBurst: 10 }, 0);
    budget.reconfigure({ ...RETRY_BUDGET, maxBurst: 3 }, 0);
    expect(budget.balance).toBe(3);
  });
});
