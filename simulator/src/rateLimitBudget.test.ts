import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/manualClock.ts';
import { RateLimitBudget, rfc3339Seconds } from './rateLimitBudget.ts';

const START = Date.parse('2026-01-01T00:00:00Z');

describe('RateLimitBudget', () => {
  it('admits everything and sends no headers when no limit is set', () => {
    const budget = new RateLimitBudget({}, new ManualClock(START));
    for (let i = 0; i < 100; i++) {
      expect(budget.admit({ inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({
        admitted: true,
        headers: {},
      });
    }
  });

  it('sends limit, remaining and an RFC 3339 reset for each configured limit', () => {
    const budget = new RateLimitBudget(
      { requestsPerMinute: 60, inputTokensPerMinute: 6000, outputTokensPerMinute: 600 },
      new ManualClock(START),
    );
    const admission = budget.admit({ inputTokens: 600, outputTokens: 30 });
    expect(admission).toEqual({
      admitted: true,
      headers: {
        'anthropic-ratelimit-requests-limit': '60',
        'anthropic-ratelimit-requests-remaining': '59',
        'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:01Z',
        'anthropic-ratelimit-input-tokens-limit': '6000',
        'anthropic-ratelimit-input-tokens-remaining': '5400',
        'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:06Z',
        'anthropic-ratelimit-output-tokens-limit': '600',
        'anthropic-ratelimit-output-tokens-remaining': '570',
        'anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:00:03Z',
        // The output limit has fewer tokens left, so it is the one in effect.
        'anthropic-ratelimit-tokens-limit': '600',
        'anthropic-ratelimit-tokens-remaining': '570',
        'anthropic-ratelimit-tokens-reset': '2026-01-01T00:00:03Z',
      },
    });
  });

  it.each([
    ['requests', { requestsPerMinute: 2 }, { inputTokens: 1, outputTokens: 1 }, 'requests', 30],
    [
      'input tokens',
      { inputTokensPerMinute: 100 },
      { inputTokens: 40, outputTokens: 1 },
      'input-tokens',
      12,
    ],
    [
      'output tokens',
      { outputTokensPerMinute: 100 },
      { inputTokens: 1, outputTokens: 40 },
      'output-tokens',
      12,
    ],
  ] as const)(
    'refuses the third request once %s are spent, with the seconds until it fits',
    (_name, limits, cost, exceeded, retryAfterSeconds) => {
      const budget = new RateLimitBudget(limits, new ManualClock(START));
      expect(budget.admit(cost).admitted).toBe(true);
      expect(budget.admit(cost).admitted).toBe(true);
      expect(budget.admit(cost)).toMatchObject({ admitted: false, exceeded, retryAfterSeconds });
    },
  );

  it('does not charge a refused request, so waiting retry-after is enough', () => {
    const clock = new ManualClock(START);
    const budget = new RateLimitBudget({ requestsPerMinute: 60, inputTokensPerMinute: 100 }, clock);
    budget.admit({ inputTokens: 100, outputTokens: 0 });
    const refused = budget.admit({ inputTokens: 50, outputTokens: 0 });
    expect(refused).toMatchObject({
      admitted: false,
      exceeded: 'input-tokens',
      retryAfterSeconds: 30,
    });
    expect(refused.headers['anthropic-ratelimit-requests-remaining']).toBe('59');
    clock.advance(30_000);
    expect(budget.admit({ inputTokens: 50, outputTokens: 0 }).admitted).toBe(true);
  });

  it('asks for at least one second, even when the wait is shorter', () => {
    const clock = new ManualClock(START);
    const budget = new RateLimitBudget({ requestsPerMinute: 600 }, clock);
    for (let i = 0; i < 600; i++) budget.admit({ inputTokens: 0, outputTokens: 0 });
    expect(budget.admit({ inputTokens: 0, outputTokens: 0 })).toMatchObject({
      admitted: false,
      retryAfterSeconds: 1,
    });
  });
});

describe('rfc3339Seconds', () => {
  it.each([
    ['a whole second as is', '2026-01-01T00:00:05.000Z', '2026-01-01T00:00:05Z'],
    ['a fraction rounded up', '2026-01-01T00:00:05.001Z', '2026-01-01T00:00:06Z'],
  ])('writes %s', (_name, iso, expected) => {
    expect(rfc3339Seconds(Date.parse(iso))).toBe(expected);
  });
});
