import { describe, expect, it } from '@jest/globals';
import { AdaptivePacer } from './adaptivePacer.ts';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function headers(values: Record<string, string | number>): Headers {
  return new Headers(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

describe('AdaptivePacer', () => {
  it('does not slow anything down before the provider says a word', () => {
    expect(new AdaptivePacer().waitFor(1_000, 1_000, T0)).toBe(0);
  });

  it('holds every call until a 429’s retry-after has passed', () => {
    const pacer = new AdaptivePacer();
    pacer.pauseFor(3_000, T0);
    expect(pacer.waitFor(0, 0, T0 + 1_000)).toBe(2_000);
    expect(pacer.limitedBy).toBe('retryAfter');
    expect(pacer.waitFor(0, 0, T0 + 3_000)).toBe(0);
  });

  it.each<[string, Record<string, string | number>, number, number, number, string]>([
    [
      'waits for the reset when no request is left',
      {
        'anthropic-ratelimit-requests-remaining': 0,
        'anthropic-ratelimit-requests-reset': iso(T0 + 20_000),
      },
      0,
      0,
      20_000,
      'requests',
    ],
    [
      'waits for the reset when the input tokens left are fewer than the estimate',
      {
        'anthropic-ratelimit-input-tokens-remaining': 500,
        'anthropic-ratelimit-input-tokens-reset': iso(T0 + 7_000),
      },
      1_000,
      0,
      7_000,
      'inputTokens',
    ],
    [
      'waits for the reset when max_tokens does not fit the output tokens left',
      {
        'anthropic-ratelimit-output-tokens-remaining': 100,
        'anthropic-ratelimit-output-tokens-reset': iso(T0 + 4_000),
      },
      10,
      4_096,
      4_000,
      'outputTokens',
    ],
    [
      'lets a call through when enough is left',
      {
        'anthropic-ratelimit-tokens-remaining': 90_000,
        'anthropic-ratelimit-tokens-reset': iso(T0 + 60_000),
      },
      1_000,
      1_000,
      0,
      '',
    ],
    [
      'forgets a limit once its reset time has passed',
      {
        'anthropic-ratelimit-requests-remaining': 0,
        'anthropic-ratelimit-requests-reset': iso(T0 - 1),
      },
      0,
      0,
      0,
      '',
    ],
  ])('%s', (_name, values, input, output, wait, limitedBy) => {
    const pacer = new AdaptivePacer();
    pacer.observe(headers(values), T0);
    expect(pacer.waitFor(input, output, T0)).toBe(wait);
    if (limitedBy !== '') expect(pacer.limitedBy).toBe(limitedBy);
  });

  it('spreads the last requests of a window evenly instead of spending them at once', () => {
    const pacer = new AdaptivePacer();
    pacer.observe(
      headers({
        'anthropic-ratelimit-requests-limit': 50,
        'anthropic-ratelimit-requests-remaining': 11,
        'anthropic-ratelimit-requests-reset': iso(T0 + 10_000),
      }),
      T0,
    );
    expect(pacer.waitFor(0, 0, T0)).toBe(0);
    pacer.charge(0, 0, T0); // 10 left, at the low-water mark (a fifth of 50): 1 s apart
    expect(pacer.waitFor(0, 0, T0)).toBe(1_000);
    expect(pacer.waitFor(0, 0, T0 + 1_000)).toBe(0);
  });

  it('counts calls it let through until the next headers arrive', () => {
    const pacer = new AdaptivePacer();
    pacer.observe(
      headers({
        'anthropic-ratelimit-requests-remaining': 2,
        'anthropic-ratelimit-requests-reset': iso(T0 + 5_000),
      }),
      T0,
    );
    pacer.charge(0, 0, T0);
    pacer.charge(0, 0, T0);
    expect(pacer.waitFor(0, 0, T0)).toBe(5_000);
    pacer.observe(
      headers({
        'anthropic-ratelimit-requests-remaining': 40,
        'anthropic-ratelimit-requests-reset': iso(T0 + 60_000),
      }),
      T0 + 100,
    );
    expect(pacer.waitFor(0, 0, T0 + 100)).toBe(0);
  });
});
