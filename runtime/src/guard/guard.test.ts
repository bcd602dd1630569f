import { describe, expect, it } from '@jest/globals';
import { retrySettings } from './settingsFixture.ts';
import {
  isCancelledError,
  isCircuitOpenError,
  isRateLimitedError,
  isTimeoutError,
} from './errors.ts';
import type { GuardAttempt } from './guardAttempt.ts';
import { breakerSettings } from './breakerFixture.ts';
import { drive, guardFixture, httpError, scripted, type Outcome } from './guardFixture.ts';

describe('Guard: one call through every policy', () => {
  it('runs a call once through the limiter, the bulkhead and the breaker', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 10 } },
      bulkhead: { maxConcurrent: 2 },
    });
    const s = scripted(f.clock, ['ok']);
    expect(await f.guard.execute(s.fn)).toBe('ok from primary');
    expect(f.limiter?.counters().admitted).toBe(1);
    expect(f.bulkhead?.active).toBe(0);
    expect(f.breaker().counters().successes).toBe(1);
  });

  it('refuses at once with RateLimitedError when onLimit is Reject, without calling', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 1 } },
      bulkhead: { maxConcurrent: 1 },
    });
    const s = scripted(f.clock, []);
    await f.guard.execute(s.fn);
    const err: unknown = await f.guard.execute(s.fn).catch((e: unknown) => e);
    expect(isRateLimitedError(err)).toBe(true);
    expect(s.attempts).toHaveLength(1);
    expect(f.bulkhead?.active).toBe(0);
  });

  it('waits for the limiter when onLimit is Wait, then runs', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 1 }, onLimit: 'Wait', maxWaitMs: 5_000 },
    });
    const s = scripted(f.clock, []);
    const t0 = f.clock.now();
    await drive(f.clock, f.guard.execute(s.fn));
    await drive(f.clock, f.guard.execute(s.fn));
    expect(s.attempts.map((a) => a.at - t0)).toEqual([0, 1_000]);
  });

  it('gives the rate token back when the caller aborts while waiting for it', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 1 }, onLimit: 'Wait', maxWaitMs: 5_000 },
    });
    const s = scripted(f.clock, []);
    await f.guard.execute(s.fn);
    const controller = new AbortController();
    const waiting = f.guard.execute(s.fn, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(isCancelledError(await waiting)).toBe(true);
    f.clock.advance(1_000);
    expect(await f.guard.execute(s.fn)).toBe('ok from primary'); // the aborted reservation was refunded
  });

  it('hands the remaining time to the SDK and tells it not to retry', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 30_000 } } });
    let options: unknown;
    await f.guard.execute((a: GuardAttempt) => {
      f.clock.advance(1_000);
      options = a.sdkOptions();
      return Promise.resolve(1);
    });
    expect(options).toEqual({ maxRetries: 0, timeout: 29_000 });
  });

  it('passes the caller’s own signal to the SDK when there is no deadline', async () => {
    const f = guardFixture();
    const controller = new AbortController();
    let options: { signal?: AbortSignal } | undefined;
    await f.guard.execute(
      (a) => {
        options = a.sdkOptions();
        return Promise.resolve(1);
      },
      { signal: controller.signal },
    );
    expect(options?.signal).toBe(controller.signal);
  });
});

describe('Guard: retries', () => {
  it.each<[string, Outcome[], number, string]>([
    ['retries two 529s and succeeds on the third attempt', [529, 529, 'ok'], 3, 'ok'],
    [
      'retries a connection error',
      [
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
        }),
        'ok',
      ],
      2,
      'ok',
    ],
    ['never retries a 400', [400], 1, 'failed'],
    [
      'never retries a spend-limit 429',
      [httpError(429, {}, 'enforced_spend_limit_reached')],
      1,
      'failed',
    ],
    ['gives up after maxAttempts', [529, 529, 529, 'ok'], 3, 'failed'],
  ])('%s', async (_name, script, attempts, result) => {
    const f = guardFixture({ guard: { retry: { maxAttempts: 3, initialDelayMs: 100 } } });
    const s = scripted(f.clock, script);
    const outcome = await drive(f.clock, f.guard.execute(s.fn));
    expect(s.attempts).toHaveLength(attempts);
    expect(outcome.error === undefined ? 'ok' : 'failed').toBe(result);
  });

  it('charges and counts every attempt, retries included', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 100 } },
      bulkhead: { maxConcurrent: 1 },
      guard: { retry: { maxAttempts: 3, initialDelayMs: 100 } },
    });
    const s = scripted(f.clock, [529, 500, 'ok']);
    await drive(f.clock, f.guard.execute(s.fn));
    expect(f.limiter?.counters().admitted).toBe(3);
    expect(f.breaker().counters()).toMatchObject({ failures: 2, successes: 1 });
    expect(f.guard.counters().retries).toBe(2);
  });

  it('does not hold a bulkhead slot while backing off', async () => {
    const f = guardFixture({
      bulkhead: { maxConcurrent: 1, maxQueue: 0 },
      guard: { retry: { initialDelayMs: 1_000 } },
    });
    const s = scripted(f.clock, [529, 'ok']);
    const first = f.guard.execute(s.fn);
    for (let i = 0; i < 30; i++) await Promise.resolve();
    expect(f.bulkhead?.active).toBe(0); // backing off
    await drive(f.clock, first);
  });

  it('waits at least what retry-after says before retrying a 429', async () => {
    const f = guardFixture({ guard: { retry: { initialDelayMs: 10 } } });
    const s = scripted(f.clock, [httpError(429, { 'retry-after': '2' }), 'ok']);
    await drive(f.clock, f.guard.execute(s.fn));
    const [first, second] = s.attempts;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2_000);
  });

  it('pauses the other calls too after a provider 429 with retry-after', async () => {
    const f = guardFixture({ limiter: {} });
    const s = scripted(f.clock, [httpError(429, { 'retry-after': '3' })]);
    await f.guard.execute(s.fn).catch(() => undefined);
    const err: unknown = await f.guard.execute(s.fn).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', reason: 'provider', retryAfterMs: 3_000 });
  });

  it('stops retrying when the breaker opens between attempts', async () => {
    const f = guardFixture({
      breaker: { failureThreshold: 2 },
      guard: { retry: { maxAttempts: 5, initialDelayMs: 10 } },
    });
    const s = scripted(f.clock, [529, 529, 529, 529, 529]);
    const outcome = await drive(f.clock, f.guard.execute(s.fn));
    expect(s.attempts).toHaveLength(2);
    expect(isCircuitOpenError(outcome.error)).toBe(true);
  });

  it('bounds retries during an outage with the retry budget', async () => {
    const f = guardFixture({
      breaker: { failureThreshold: 10_000 },
      guard: {
        retry: { maxAttempts: 3, initialDelayMs: 1 },
        retryBudget: { percent: 10, minPerSecond: 0, maxBurst: 5 },
      },
    });
    const s = scripted(
      f.clock,
      Array.from({ length: 1_000 }, () => 503),
    );
    for (let i = 0; i < 100; i++) await drive(f.clock, f.guard.execute(s.fn), 1);
    expect(s.attempts.length).toBeLessThanOrEqual(100 + 5 + 10);
    expect(f.guard.counters().retryBudgetExhausted).toBeGreaterThan(0);
  });
});

describe('Guard: an open breaker', () => {
  it('fails fast without spending a rate token', async () => {
    const f = guardFixture({
      breaker: { override: { state: 'ForcedOpen', reason: 'incident' } },
      limiter: { requests: { perSecond: 10 } },
    });
    const s = scripted(f.clock, ['ok']);
    const err: unknown = await f.guard.execute(s.fn).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(s.attempts).toEqual([]);
    expect(f.limiter?.counters().admitted).toBe(0);
    expect(f.breaker().counters().rejected).toBe(1);
  });

  it('answers CircuitOpenError with a retry time when every target is open', async () => {
    const f = guardFixture({
      target: 'b',
      breaker: {
        override: { state: 'ForcedOpen', reason: 'x', untilMs: Date.parse('2025-06-01T12:01:00Z') },
      },
    });
    const err: unknown = await f.guard.execute(scripted(f.clock, []).fn).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CIRCUIT_OPEN', breaker: 'b', retryAfterMs: 60_000 });
  });

  it('gives the rate token back when the breaker refuses after the call queued for a slot', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 2 } },
      bulkhead: { maxConcurrent: 1, maxQueue: 1 },
    });
    const slow = scripted(f.clock, ['hang']);
    void f.guard.execute(slow.fn);
    const queued = f.guard.execute(scripted(f.clock, []).fn).catch((e: unknown) => e);
    f.breaker().reconfigure(breakerSettings({ override: { state: 'ForcedOpen', reason: 'x' } }));
    f.bulkhead?.release(); // the hanging call's slot goes to the queued one
    expect(isCircuitOpenError(await queued)).toBe(true);
    f.breaker().reconfigure(breakerSettings());
    expect(f.limiter?.admit(f.clock.now())).toBe(0); // its token came back
  });
});

describe('Guard: timeouts', () => {
  it('times out a call that hangs and counts it as a Timeout', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    let signal: AbortSignal | undefined;
    const outcome = await drive(
      f.clock,
      f.guard.execute((a) => {
        signal = a.signal;
        return new Promise(() => undefined);
      }),
    );
    expect(isTimeoutError(outcome.error)).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(f.breaker().counters().failuresByClass.Timeout).toBe(1);
    expect(f.guard.counters().timeouts).toBe(1);
  });

  it('times out no earlier than the timeout', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 }, deadlineResolutionMs: 1 } });
    const t0 = f.clock.now();
    let settledAt = 0;
    const call = f.guard
      .execute(() => new Promise(() => undefined))
      .catch(() => (settledAt = f.clock.now()));
    await drive(f.clock, call, 1);
    expect(settledAt - t0).toBe(1_000);
  });

  it('holds no timer once it is idle and its deadlines have passed', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    for (let i = 0; i < 10; i++) await f.guard.execute(() => Promise.resolve(i));
    expect(f.guard.pendingDeadlines).toBe(0);
    expect(f.clock.pendingTimers).toBe(1);
    f.clock.advance(1_000);
    expect(f.clock.pendingTimers).toBe(0);
    expect(f.guard.deadlineTimerArmed).toBe(false);
  });

  /** An attempt that never settles, driven past its 1 s deadline. */
  async function timedOutAttempt(): Promise<GuardAttempt | undefined> {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    let attempt: GuardAttempt | undefined;
    await drive(
      f.clock,
      f.guard.execute((a) => {
        attempt = a;
        return new Promise(() => undefined);
      }),
    );
    return attempt;
  }

  it('hands out an aborted signal when asked after the deadline passed', async () => {
    const attempt = await timedOutAttempt();
    expect(attempt?.signal.aborted).toBe(true);
    expect(isTimeoutError(attempt?.signal.reason)).toBe(true);
  });

  it('tells work that asks after the deadline passed that it expired, at once', async () => {
    const attempt = await timedOutAttempt();
    const told: unknown[] = [];
    attempt?.whenExpired((err) => told.push(err));
    expect(told).toHaveLength(1);
    expect(isTimeoutError(told[0])).toBe(true);
    expect(attempt?.expired).toBe(true);
  });

  it('creates no AbortSignal unless the call asks for one', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    const outcome = await drive(
      f.clock,
      f.guard.execute(() => new Promise(() => undefined)),
    );
    expect(isTimeoutError(outcome.error)).toBe(true);
  });
});

describe('Guard: usage, headers and shadow mode', () => {
  it('settles the token budget from reported usage', async () => {
    const f = guardFixture({ limiter: { tokens: { outputPerMinute: 5_000 } } });
    const estimate = { inputTokens: 10, outputTokens: 4_000 };
    await f.guard.execute(
      (a) => {
        a.reportUsage({ inputTokens: 10, outputTokens: 50 });
        return Promise.resolve(1);
      },
      { estimate },
    );
    expect(await f.guard.execute(() => Promise.resolve(2), { estimate })).toBe(2);
  });

  it('gives a failed call’s token reservation back', async () => {
    const f = guardFixture({ limiter: { tokens: { outputPerMinute: 5_000 } } });
    const estimate = { inputTokens: 0, outputTokens: 4_000 };
    await f.guard
      .execute(() => Promise.reject(httpError(500)), { estimate })
      .catch(() => undefined);
    expect(await f.guard.execute(() => Promise.resolve(2), { estimate })).toBe(2);
  });

  it('paces from the headers a call reports', async () => {
    const f = guardFixture({ limiter: {} });
    const reset = new Date(f.clock.now() + 10_000).toISOString();
    await f.guard.execute((a) => {
      a.observeHeaders(
        new Headers({
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': reset,
        }),
      );
      return Promise.resolve(1);
    });
    await expect(f.guard.execute(() => Promise.resolve(2))).rejects.toMatchObject({
      reason: 'provider',
    });
  });

  it('never blocks with a Shadow limiter and a Shadow breaker', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 1 }, mode: 'Shadow' },
      breaker: { failureThreshold: 1, mode: 'Shadow' },
    });
    const s = scripted(f.clock, [529, 'ok', 'ok', 'ok']);
    for (let i = 0; i < 4; i++) await f.guard.execute(s.fn).catch(() => undefined);
    expect(s.attempts).toHaveLength(4);
    expect(f.breaker().state).toBe('Open');
    expect(f.limiter?.counters().shadowRejected).toBe(3);
  });
});

describe('Guard: a Shadow bulkhead behind a limiter', () => {
  it('counts each call it would have turned away once, though the limiter sends it the long way', async () => {
    const f = guardFixture({
      limiter: { requests: { perSecond: 1, burst: 1 }, mode: 'Shadow' },
      bulkhead: { maxConcurrent: 2, maxQueue: 2, mode: 'Shadow' },
    });
    // Seven calls held at once: the fifth, sixth and seventh find four already in.
    const held: (() => void)[] = [];
    const calls = Array.from({ length: 7 }, () =>
      f.guard.execute(
        () =>
          new Promise<number>((resolve) => {
            held.push(() => {
              resolve(1);
            });
          }),
      ),
    );
    while (held.length < 7) await Promise.resolve();
    expect(f.bulkhead?.active).toBe(7);
    expect(f.bulkhead?.counters().shadowRejected).toBe(3);
    for (const release of held) release();
    await Promise.all(calls);
    expect(f.bulkhead?.active).toBe(0);
  });
});

describe('Guard: clock reads', () => {
  it('reads the clock once per call with a limiter and a consecutive-failure breaker', async () => {
    const f = guardFixture({ limiter: { requests: { perSecond: 10 } } });
    let reads = 0;
    const now = f.clock.now.bind(f.clock);
    f.clock.now = () => {
      reads++;
      return now();
    };
    await f.guard.execute(() => Promise.resolve(1));
    expect(reads).toBe(1);
  });

  it.each<[string, Parameters<typeof guardFixture>[0], number]>([
    ['not at all with only a consecutive-failure breaker', {}, 0],
    [
      'twice when the breaker judges slow calls',
      { breaker: { slowCall: { durationMs: 1_000, thresholdPercent: 50 } } },
      2,
    ],
  ])('reads the clock %s', async (_name, options, expected) => {
    const f = guardFixture(options);
    let reads = 0;
    const now = f.clock.now.bind(f.clock);
    f.clock.now = () => {
      reads++;
      return now();
    };
    await f.guard.execute(() => Promise.resolve(1));
    expect(reads).toBe(expected);
  });

  it('counts a slow call as slow only when its start was timed', async () => {
    const f = guardFixture({
      breaker: {
        failureRate: { thresholdPercent: 100, minimumCalls: 1 },
        slowCall: { durationMs: 1_000, thresholdPercent: 50 },
      },
    });
    await f.guard.execute(() => {
      f.clock.advance(2_000);
      return Promise.resolve(1);
    });
    expect(f.breaker().state).toBe('Open');
  });
});

describe('Guard: live reconfiguration', () => {
  it('lets a call in flight finish across a reconfiguration', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 }, retry: { maxAttempts: 1 } } });
    let release: (v: string) => void = () => undefined;
    const inFlight = f.guard.execute(() => new Promise<string>((r) => (release = r)));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    f.guard.reconfigure({
      timeout: { timeoutMs: 5_000 },
      retry: retrySettings({ maxAttempts: 3 }),
    });
    release('done');
    expect(await inFlight).toBe('done');
  });

  it('applies a new timeout from the next attempt', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 }, deadlineResolutionMs: 1 } });
    f.guard.reconfigure({ timeout: { timeoutMs: 200 } });
    const t0 = f.clock.now();
    let at = 0;
    await drive(
      f.clock,
      f.guard.execute(() => new Promise(() => undefined)).catch(() => (at = f.clock.now())),
      1,
    );
    expect(at - t0).toBe(200);
  });
});

describe('Guard: streamed attempts', () => {
  it('stops the deadline at the first event, so a stream may outlast the timeout', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    const call = f.guard.execute(async (a) => {
      f.clock.advance(500);
      a.firstEvent();
      f.clock.advance(5_000); // the rest of the stream
      await Promise.resolve();
      return 'streamed';
    });
    expect(await drive(f.clock, call)).toEqual({ value: 'streamed' });
    expect(f.guard.counters().timeouts).toBe(0);
  });

  it('times out a stream whose first event is later than the timeout', async () => {
    const f = guardFixture({ guard: { timeout: { timeoutMs: 1_000 } } });
    const outcome = await drive(
      f.clock,
      f.guard.execute(() => new Promise(() => undefined)),
    );
    expect(isTimeoutError(outcome.error)).toBe(true);
  });

  it('holds the bulkhead slot until the stream ends', async () => {
    const f = guardFixture({ bulkhead: { maxConcurrent: 1, maxQueue: 0 } });
    let end: (() => void) | undefined;
    const streaming = f.guard.execute(
      (a) =>
        new Promise<string>((resolve) => {
          a.firstEvent();
          end = () => {
            resolve('done');
          };
        }),
    );
    await Promise.resolve();
    expect(f.bulkhead?.active).toBe(1);
    const refused: unknown = await f.guard
      .execute(() => Promise.resolve('x'))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    end?.();
    await streaming;
    expect(f.bulkhead?.active).toBe(0);
  });

  it('counts a failure after content against the breaker but never retries or falls back', async () => {
    const f = guardFixture({
      guard: { retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10 } },
    });
    let calls = 0;
    const outcome = await drive(
      f.clock,
      f.guard.execute((a) => {
        calls++;
        a.firstEvent();
        a.commit();
        return Promise.reject(httpError(529));
      }),
    );
    expect(outcome.error).toBeDefined();
    expect(calls).toBe(1);
    expect(f.breaker().counters().failuresByClass.Overloaded).toBe(1);
  });

  it('measures a stream’s slowness by its first event, not its length', async () => {
    const f = guardFixture({
      breaker: {
        failureThreshold: 100,
        slowCall: { durationMs: 1_000, thresholdPercent: 50 },
        failureRate: { thresholdPercent: 50, minimumCalls: 2, window: { type: 'Count', size: 2 } },
      },
    });
    for (let i = 0; i < 2; i++) {
      await f.guard.execute(async (a) => {
        f.clock.advance(100);
        a.firstEvent();
        f.clock.advance(60_000);
        await Promise.resolve();
        return 'long stream';
      });
    }
    expect(f.breaker().state).toBe('Closed');
  });
});
