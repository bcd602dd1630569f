import { describe, expect, it } from '@jest/globals';
import { isRateLimitedError, RateLimitedError } from './errors.ts';
import { RateLimiter, UNCHARGED } from './rateLimiter.ts';
import { limiterSettings, type LimiterPatch } from './settingsFixture.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

function limiter(options: LimiterPatch, start = 0) {
  const clock = new ManualClock(start);
  return {
    clock,
    limiter: new RateLimiter({ name: 'agent', clock, options: limiterSettings(options) }),
  };
}

function refusal(fn: () => unknown): RateLimitedError {
  try {
    fn();
  } catch (err) {
    if (isRateLimitedError(err)) return err;
    throw err;
  }
  throw new Error('expected a RateLimitedError');
}

const ONE_PER_SECOND: LimiterPatch = { requests: { perSecond: 1, burst: 1 } };

describe('RateLimiter', () => {
  it('rejects with the time until the next token when onLimit is Reject', () => {
    const { limiter: l, clock } = limiter(ONE_PER_SECOND);
    expect(l.admit(clock.now())).toBe(0);
    clock.advance(300);
    const err = refusal(() => l.admit(clock.now()));
    expect(err).toMatchObject({
      code: 'RATE_LIMITED',
      reason: 'requests',
      retryAfterMs: 700,
      limiter: 'agent',
    });
  });

  it.each<[string, LimiterPatch, number, number | 'rejected']>([
    [
      'waits for a token within maxWait',
      { ...ONE_PER_SECOND, onLimit: 'Wait', maxWaitMs: 2_000 },
      1,
      1_000,
    ],
    [
      'reserves in order: the third caller waits two periods',
      { ...ONE_PER_SECOND, onLimit: 'Wait', maxWaitMs: 5_000 },
      2,
      2_000,
    ],
    [
      'rejects when the wait would exceed maxWait',
      { ...ONE_PER_SECOND, onLimit: 'Wait', maxWaitMs: 500 },
      1,
      'rejected',
    ],
  ])('%s', (_name, options, callsBefore, expected) => {
    const { limiter: l } = limiter(options);
    l.admit(0);
    for (let i = 1; i < callsBefore; i++) l.admit(0);
    if (expected === 'rejected') expect(() => l.admit(0)).toThrow('refused the call');
    else expect(l.admit(0)).toBe(expected);
  });

  it('lets every call through in Shadow mode, counting the ones it would have refused', () => {
    const { limiter: l } = limiter({ ...ONE_PER_SECOND, mode: 'Shadow' });
    expect([l.admit(0), l.admit(0), l.admit(0)]).toEqual([0, UNCHARGED, UNCHARGED]);
    expect(l.counters()).toMatchObject({ admitted: 1, shadowRejected: 2 });
  });

  it.each<[string, LimiterPatch, { inputTokens: number; outputTokens: number }, string]>([
    [
      'names the input budget when it is the limit',
      { tokens: { inputPerMinute: 1_000 } },
      { inputTokens: 800, outputTokens: 0 },
      'inputTokens',
    ],
    [
      'names the output budget when max_tokens does not fit',
      { tokens: { outputPerMinute: 1_000 } },
      { inputTokens: 0, outputTokens: 800 },
      'outputTokens',
    ],
  ])('%s', (_name, options, estimate, reason) => {
    const { limiter: l } = limiter(options);
    l.admit(0, estimate);
    expect(refusal(() => l.admit(0, estimate)).reason).toBe(reason);
  });

  it('gives a charge back when the call never went out', () => {
    const { limiter: l } = limiter({ ...ONE_PER_SECOND, tokens: { inputPerMinute: 1_000 } });
    const estimate = { inputTokens: 900, outputTokens: 0 };
    l.admit(0, estimate);
    l.refund(estimate);
    expect(l.admit(0, estimate)).toBe(0);
  });

  it('settles the token budget from real usage', () => {
    const { limiter: l } = limiter({ tokens: { outputPerMinute: 5_000 } });
    const estimate = { inputTokens: 0, outputTokens: 4_096 };
    l.admit(0, estimate);
    l.settle(estimate, { inputTokens: 0, outputTokens: 100 });
    expect(l.admit(0, estimate)).toBe(0);
  });

  it('slows down before the provider answers 429, from its headers', () => {
    const { limiter: l, clock } = limiter({}, Date.parse('2025-06-01T12:00:00Z'));
    const reset = new Date(clock.now() + 15_000).toISOString();
    l.observeHeaders(
      new Headers({
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': reset,
      }),
      clock.now(),
    );
    expect(refusal(() => l.admit(clock.now()))).toMatchObject({
      reason: 'provider',
      retryAfterMs: 15_000,
    });
  });

  it('holds every call after a 429’s retry-after', () => {
    const { limiter: l, clock } = limiter({});
    l.observeRetryAfter(4_000, clock.now());
    expect(refusal(() => l.admit(clock.now())).retryAfterMs).toBe(4_000);
  });

  it.each<[string, LimiterPatch]>([
    [
      'ignores provider headers when providerHeaders is off',
      { adaptive: { providerHeaders: false } },
    ],
    ['ignores retry-after when honorRetryAfter is off', { adaptive: { honorRetryAfter: false } }],
  ])('%s', (_name, options) => {
    const { limiter: l, clock } = limiter(options, Date.parse('2025-06-01T12:00:00Z'));
    const reset = new Date(clock.now() + 15_000).toISOString();
    if (options.adaptive?.providerHeaders === false) {
      l.observeHeaders(
        new Headers({
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': reset,
        }),
        clock.now(),
      );
    } else {
      l.observeRetryAfter(4_000, clock.now());
    }
    expect(l.admit(clock.now())).toBe(0);
  });

  it('sleeps through a wait when used on its own, and refunds when the caller aborts', async () => {
    const { limiter: l, clock } = limiter({
      ...ONE_PER_SECOND,
      onLimit: 'Wait',
      maxWaitMs: 10_000,
    });
    await l.acquire();
    let done = false;
    const waiting = l.acquire().then(() => (done = true));
    clock.advance(999);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await waiting;
    expect(done).toBe(true);

    const controller = new AbortController();
    const aborted = l.acquire(undefined, controller.signal);
    controller.abort(new Error('caller left'));
    await expect(aborted).rejects.toThrow('caller left');
    clock.advance(1_000);
    expect(l.admit(clock.now())).toBe(0); // the aborted reservation was given back
  });

  it('keeps the tokens left in the bucket across a reconfiguration', () => {
    const { limiter: l, clock } = limiter({ requests: { perSecond: 1, burst: 5 } });
    for (let i = 0; i < 4; i++) l.admit(clock.now());
    l.reconfigure(limiterSettings({ requests: { perSecond: 100, burst: 50 } }));
    l.admit(clock.now());
    expect(() => l.admit(clock.now())).toThrow('refused the call'); // 1 token was left, no free burst
  });

  it('keeps what the provider said across a reconfiguration', () => {
    const { limiter: l, clock } = limiter({});
    l.observeRetryAfter(4_000, clock.now());
    l.reconfigure(limiterSettings({ requests: { perSecond: 10 } }));
    expect(() => l.admit(clock.now())).toThrow('(provider)');
  });
});

describe('a refusal', () => {
  it('names the limit as the metric label and the runbook spell it', () => {
    expect(new RateLimitedError('agent', 'inputTokens', 5).message).toBe(
      'rate limiter "agent" refused the call (input_tokens); retry in 5 ms',
    );
    expect(new RateLimitedError('agent', 'outputTokens', 5).message).toContain('(output_tokens)');
  });
});
