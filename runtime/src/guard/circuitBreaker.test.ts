import { describe, expect, it } from '@jest/globals';
import type { BreakerStateName, StateChangeEvent } from './breakerState.ts';
import { CircuitBreaker, REJECTED, UNCOUNTED } from './circuitBreaker.ts';
import { isCircuitOpenError } from './errors.ts';
import {
  breakerFixture,
  breakerSettings,
  times,
  type BreakerSettingsPatch,
  type Step,
} from './breakerFixture.ts';
import { guardFixture } from './guardFixture.ts';
import { APIError } from '@anthropic-ai/sdk';

describe('CircuitBreaker transitions', () => {
  it.each<[string, BreakerSettingsPatch, Step[], BreakerStateName]>([
    ['opens after five consecutive 529s', {}, times(5, 'Overloaded'), 'Open'],
    ['stays closed after four consecutive 529s', {}, times(4, 'Overloaded'), 'Closed'],
    [
      'a success in between resets the consecutive count',
      {},
      [...times(4, 'ServerError'), 'ok', ...times(4, 'ServerError')],
      'Closed',
    ],
    [
      'opens after three failures with failureThreshold 3',
      { failureThreshold: 3 },
      times(3, 'Timeout'),
      'Open',
    ],
    ['does not count 429s by default', {}, times(10, 'RateLimited'), 'Closed'],
    [
      'counts 429s when failOn lists RateLimited',
      { failOn: ['RateLimited'] },
      times(5, 'RateLimited'),
      'Open',
    ],
    [
      'does not count a class failOn leaves out',
      { failOn: ['Overloaded'] },
      times(5, 'ServerError'),
      'Closed',
    ],
    [
      'ignored outcomes neither open nor reset it',
      {},
      [...times(4, 'ServerError'), 'ignored', 'ServerError'],
      'Open',
    ],
    ['refuses calls while open', {}, [...times(5, 'Overloaded'), 'ok'], 'Open'],
    [
      'goes half-open once the open duration has passed',
      { openDurationMs: 1_000 },
      [...times(5, 'Overloaded'), 'wait:1000'],
      'HalfOpen',
    ],
    [
      'stays half-open after one good probe of two',
      { openDurationMs: 1_000 },
      [...times(5, 'Overloaded'), 'wait:1000', 'ok'],
      'HalfOpen',
    ],
    [
      'closes after successThreshold good probes',
      { openDurationMs: 1_000, successThreshold: 2 },
      [...times(5, 'Overloaded'), 'wait:1000', 'ok', 'ok'],
      'Closed',
    ],
    [
      're-opens when a probe fails',
      { openDurationMs: 1_000 },
      [...times(5, 'Overloaded'), 'wait:1000', 'ConnectionError'],
      'Open',
    ],
    [
      'opens at a 50% failure rate over the last 10 calls',
      {
        failureThreshold: 100,
        failureRate: {
          thresholdPercent: 50,
          minimumCalls: 10,
          window: { type: 'Count', size: 10 },
        },
      },
      [
        'ok',
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
      ],
      'Open',
    ],
    [
      'does not judge a failure rate below minimumCalls',
      { failureThreshold: 100, failureRate: { thresholdPercent: 50, minimumCalls: 10 } },
      [
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
        'ok',
        'ServerError',
      ],
      'Closed',
    ],
    [
      'forgets failures that slid out of a count window',
      {
        failureThreshold: 100,
        failureRate: { thresholdPercent: 50, minimumCalls: 4, window: { type: 'Count', size: 4 } },
      },
      ['ServerError', 'ok', 'ok', 'ok', 'ok', 'ServerError'],
      'Closed',
    ],
    [
      'opens at a failure rate over a time window',
      {
        failureThreshold: 100,
        failureRate: {
          thresholdPercent: 50,
          minimumCalls: 4,
          window: { type: 'Time', sizeMs: 10_000 },
        },
      },
      ['ok', 'wait:2000', 'ServerError', 'wait:2000', 'ok', 'wait:2000', 'ServerError'],
      'Open',
    ],
    [
      'forgets failures older than the time window',
      {
        failureThreshold: 100,
        failureRate: {
          thresholdPercent: 50,
          minimumCalls: 4,
          window: { type: 'Time', sizeMs: 10_000 },
        },
      },
      ['ServerError', 'ServerError', 'wait:11000', 'ok', 'ok', 'ok', 'ServerError'],
      'Closed',
    ],
    [
      'opens when slow calls reach the slow-call threshold',
      {
        // The slow-call rule reads the failure-rate rule's window and minimumCalls.
        failureRate: { thresholdPercent: 100, minimumCalls: 4 },
        slowCall: { durationMs: 5_000, thresholdPercent: 50 },
      },
      ['ok', 'slow', 'ok', 'slow'],
      'Open',
    ],
    [
      're-opens when a half-open probe is slow',
      {
        openDurationMs: 1_000,
        slowCall: { durationMs: 5_000, thresholdPercent: 100 },
      },
      [...times(5, 'Overloaded'), 'wait:1000', 'slow'],
      'Open',
    ],
  ])('%s', (_name, options, steps, expected) => {
    const { breaker, run } = breakerFixture(options);
    run(steps);
    expect(breaker.state).toBe(expected);
  });

  it.each<[string, number | undefined, number[]]>([
    ['keeps the open duration when no maxOpenDuration is set', undefined, [1_000, 1_000, 1_000]],
    [
      'doubles the open duration on each re-open up to maxOpenDuration',
      3_000,
      [1_000, 2_000, 3_000, 3_000],
    ],
  ])('%s', (_name, maxOpenDurationMs, expected) => {
    const options: BreakerSettingsPatch = {
      openDurationMs: 1_000,
      ...(maxOpenDurationMs ? { maxOpenDurationMs } : {}),
    };
    const { breaker, clock, run } = breakerFixture(options);
    run(times(5, 'Overloaded'));
    const durations: number[] = [];
    for (let i = 0; i < expected.length; i++) {
      const opened = clock.now();
      let waited = 0;
      while (breaker.state === 'Open') {
        clock.advance(100);
        waited += 100;
      }
      durations.push(waited);
      expect(breaker.since).toBe(opened + waited);
      run(['Overloaded']); // the probe fails: open again
    }
    expect(durations).toEqual(expected);
  });

  it('resets the open duration once it closes again', () => {
    const { breaker, clock, run } = breakerFixture({
      openDurationMs: 1_000,
      maxOpenDurationMs: 8_000,
      successThreshold: 1,
    });
    run([...times(5, 'Overloaded'), 'wait:1000', 'Overloaded', 'wait:2000', 'ok']);
    expect(breaker.state).toBe('Closed');
    run(times(5, 'Overloaded'));
    clock.advance(1_000);
    expect(breaker.state).toBe('HalfOpen');
  });

  it('refuses with the time left until the first probe', () => {
    const { breaker, clock, run } = breakerFixture({ openDurationMs: 30_000 });
    run(times(5, 'Overloaded'));
    clock.advance(10_000);
    expect(breaker.tryAcquire(clock.now())).toBe(REJECTED);
    const err = breaker.rejection(clock.now());
    expect(isCircuitOpenError(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'CIRCUIT_OPEN',
      state: 'Open',
      retryAfterMs: 20_000,
      breaker: 'test',
    });
  });

  it('lets only halfOpenMaxCalls probes run at once', () => {
    const { breaker, clock, run } = breakerFixture({ openDurationMs: 1_000, halfOpenMaxCalls: 2 });
    run(times(5, 'Overloaded'));
    clock.advance(1_000);
    const now = clock.now();
    const a = breaker.tryAcquire(now);
    const b = breaker.tryAcquire(now);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThanOrEqual(0);
    expect(breaker.tryAcquire(now)).toBe(REJECTED);
    expect(breaker.rejection(now).state).toBe('HalfOpen');
    breaker.onIgnored(a);
    expect(breaker.tryAcquire(now)).toBeGreaterThanOrEqual(0);
  });

  it('does not let an outcome from before a trip move the new state', () => {
    const { breaker, clock } = breakerFixture({ openDurationMs: 1_000, successThreshold: 1 });
    const early = breaker.tryAcquire(clock.now());
    for (let i = 0; i < 5; i++)
      breaker.onFailure(breaker.tryAcquire(clock.now()), 'Overloaded', 1, clock.now());
    clock.advance(1_000);
    expect(breaker.state).toBe('HalfOpen');
    breaker.onSuccess(early, 1, clock.now()); // admitted while Closed, long ago
    expect(breaker.state).toBe('HalfOpen');
  });

  it('needs no timer while open: the half-open edge is taken lazily', () => {
    const { clock, run } = breakerFixture({ openDurationMs: 1_000 });
    run(times(5, 'Overloaded'));
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs a function and classifies what it throws', async () => {
    // Through the guard, as production runs every call.
    const { guard, breaker: theBreaker } = guardFixture({ breaker: { failureThreshold: 2 } });
    const breaker = { execute: (fn: () => Promise<unknown>) => guard.execute(fn) };
    const overloaded = APIError.generate(
      529,
      { type: 'error', error: { type: 'overloaded_error', message: 'x' } },
      undefined,
      new Headers(),
    );
    const badRequest = APIError.generate(
      400,
      { type: 'error', error: { type: 'invalid_request_error', message: 'x' } },
      undefined,
      new Headers(),
    );
    await expect(breaker.execute(() => Promise.reject(badRequest))).rejects.toBe(badRequest);
    await expect(breaker.execute(() => Promise.reject(badRequest))).rejects.toBe(badRequest);
    expect(theBreaker().state).toBe('Closed');
    await expect(breaker.execute(() => Promise.reject(overloaded))).rejects.toBe(overloaded);
    await expect(breaker.execute(() => Promise.reject(overloaded))).rejects.toBe(overloaded);
    await expect(breaker.execute(() => Promise.resolve(1))).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
    });
    expect(theBreaker().counters()).toMatchObject({
      ignored: 2,
      failures: 2,
      rejected: 1,
      trips: 1,
    });
  });
});

describe('CircuitBreaker rate rules sharing a window', () => {
  const shared: BreakerSettingsPatch = {
    failureThreshold: 100,
    failureRate: { thresholdPercent: 50, minimumCalls: 4, window: { type: 'Count', size: 10 } },
    slowCall: { durationMs: 5_000, thresholdPercent: 50 },
  };

  it('records each call once when the slow-call rule reads the failure-rate window', () => {
    const { breaker, run } = breakerFixture(shared);
    run(['ServerError', 'ok']); // two calls, not four: below minimumCalls
    expect(breaker.state).toBe('Closed');
    run(['ok', 'ServerError']); // four calls, two failed
    expect(breaker.state).toBe('Open');
  });

  it('still trips on slow calls through the shared window', () => {
    const { breaker, run } = breakerFixture(shared);
    run(['ok', 'slow', 'ok', 'slow']);
    expect(breaker.state).toBe('Open');
  });

  it('gives the slow-call rule its own copy when its window stops matching', () => {
    const { breaker, run } = breakerFixture(shared);
    run(['slow', 'slow', 'ok']);
    // Without a failure-rate rule the slow-call rule reads a window of its own (the last 100
    // calls, evaluated from 10): it must start from a copy of the calls the shared one held.
    breaker.reconfigure(
      breakerSettings({
        failureThreshold: 100,
        slowCall: { durationMs: 5_000, thresholdPercent: 50 },
      }),
    );
    run(times(7, 'slow')); // 10 calls with the 3 copied: evaluated, and 9 are slow
    expect(breaker.state).toBe('Open');
  });
});

describe('CircuitBreaker override and mode', () => {
  it.each<[string, BreakerSettingsPatch, Step[], BreakerStateName, number]>([
    [
      'ForcedOpen refuses every call',
      { override: { state: 'ForcedOpen', reason: 'incident 42' } },
      ['ok', 'ok'],
      'ForcedOpen',
      2,
    ],
    [
      'ForcedClosed lets every call through even after many failures',
      { override: { state: 'ForcedClosed', reason: 'x' } },
      [...times(10, 'Overloaded'), 'ok'],
      'ForcedClosed',
      0,
    ],
    [
      'Shadow never refuses but still opens',
      { mode: 'Shadow' },
      [...times(5, 'Overloaded'), 'ok', 'ok'],
      'Open',
      0,
    ],
    [
      'Shadow does not refuse a ForcedOpen either',
      { mode: 'Shadow', override: { state: 'ForcedOpen', reason: 'x' } },
      ['ok'],
      'ForcedOpen',
      0,
    ],
  ])('%s', (_name, options, steps, state, refused) => {
    const { breaker, run } = breakerFixture(options);
    expect(run(steps)).toBe(refused);
    expect(breaker.state).toBe(state);
  });

  it('lifts an override by itself at its until time', () => {
    const start = 1_000_000;
    const { breaker, clock, run } = breakerFixture(
      { override: { state: 'ForcedOpen', reason: 'deploy', untilMs: start + 5_000 } },
      start,
    );
    expect(run(['ok'])).toBe(1);
    clock.advance(5_000);
    expect(run(['ok'])).toBe(0);
    expect(breaker.state).toBe('Closed');
  });

  it('counts the calls a Shadow breaker would have refused', () => {
    const { breaker, run } = breakerFixture({ mode: 'Shadow' });
    run([...times(5, 'Overloaded'), 'ok', 'ok', 'ok']);
    expect(breaker.counters()).toMatchObject({ rejected: 0, shadowRejected: 3 });
  });

  it('keeps computing state under ForcedClosed and shows it when the override goes', () => {
    const { breaker, run } = breakerFixture({ override: { state: 'ForcedClosed', reason: 'x' } });
    run(times(5, 'Overloaded'));
    expect(breaker.state).toBe('ForcedClosed');
    breaker.reconfigure(breakerSettings({}));
    expect(breaker.state).toBe('Open');
  });
});

describe('CircuitBreaker events', () => {
  it('reports each state change with its reason and time', () => {
    const { breaker, clock, run } = breakerFixture({ openDurationMs: 1_000, successThreshold: 1 });
    const events: StateChangeEvent[] = [];
    const unsubscribe = breaker.onStateChange((e) => events.push(e));
    const t0 = clock.now();
    run([...times(5, 'Overloaded'), 'wait:1000', 'ok']);
    expect(events).toEqual([
      { breaker: 'test', from: 'Closed', to: 'Open', reason: 'consecutiveFailures', at: t0 },
      {
        breaker: 'test',
        from: 'Open',
        to: 'HalfOpen',
        reason: 'openDurationElapsed',
        at: t0 + 1_000,
      },
      {
        breaker: 'test',
        from: 'HalfOpen',
        to: 'Closed',
        reason: 'probesSucceeded',
        at: t0 + 1_000,
      },
    ]);
    unsubscribe();
    run(times(5, 'Overloaded'));
    expect(events).toHaveLength(3);
  });

  it('reports an override being applied and removed', () => {
    const { breaker } = breakerFixture();
    const seen: string[] = [];
    breaker.onStateChange((e) => seen.push(`${e.from}->${e.to}:${e.reason}`));
    breaker.reconfigure(breakerSettings({ override: { state: 'ForcedOpen', reason: 'incident' } }));
    breaker.reconfigure(breakerSettings({}));
    expect(seen).toEqual([
      'Closed->ForcedOpen:overrideApplied',
      'ForcedOpen->Closed:overrideRemoved',
    ]);
  });

  it('survives a listener that throws', () => {
    const { breaker, run } = breakerFixture();
    breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    expect(() => run(times(5, 'Overloaded'))).not.toThrow();
    expect(breaker.state).toBe('Open');
  });
});

describe('CircuitBreaker snapshot and restore', () => {
  it('hands an open breaker over to a new one, as plain JSON', () => {
    const options: BreakerSettingsPatch = { openDurationMs: 10_000, maxOpenDurationMs: 40_000 };
    const a = breakerFixture(options);
    a.run([...times(5, 'Overloaded'), 'wait:10000', 'Overloaded']);
    const json = JSON.parse(JSON.stringify(a.breaker.snapshot())) as ReturnType<
      CircuitBreaker['snapshot']
    >;
    expect(json).toMatchObject({ version: 1, state: 'Open', consecutiveOpens: 2, trips: 2 });

    const b = breakerFixture(options);
    b.clock.advance(a.clock.now() - b.clock.now());
    b.breaker.restore(json);
    expect(b.breaker.state).toBe('Open');
    b.clock.advance(19_999);
    expect(b.breaker.state).toBe('Open');
    b.clock.advance(1);
    expect(b.breaker.state).toBe('HalfOpen');
  });

  it('carries a failure-rate window over when its shape matches', () => {
    const options: BreakerSettingsPatch = {
      failureThreshold: 100,
      failureRate: { thresholdPercent: 50, minimumCalls: 4, window: { type: 'Count', size: 4 } },
    };
    const a = breakerFixture(options);
    a.run(['ok', 'ServerError', 'ok']);
    const b = breakerFixture(options);
    b.breaker.restore(a.breaker.snapshot());
    b.run(['ServerError']);
    expect(b.breaker.state).toBe('Open');
  });

  it('does not take probes in flight over from a half-open snapshot', () => {
    const a = breakerFixture({ openDurationMs: 1_000 });
    a.run(times(5, 'Overloaded'));
    a.clock.advance(1_000);
    a.breaker.tryAcquire(a.clock.now());
    const b = breakerFixture({ openDurationMs: 1_000 });
    b.breaker.restore(a.breaker.snapshot());
    expect(b.breaker.tryAcquire(b.clock.now())).toBeGreaterThanOrEqual(0);
  });
});

describe('CircuitBreaker live reconfiguration', () => {
  it('keeps the consecutive-failure count under a new threshold', () => {
    const { breaker, run } = breakerFixture({ failureThreshold: 5 });
    run(times(3, 'Overloaded'));
    breaker.reconfigure(breakerSettings({ failureThreshold: 4 }));
    run(['Overloaded']);
    expect(breaker.state).toBe('Open');
  });

  it('keeps an open breaker open, re-measuring the period with the new duration', () => {
    const { breaker, clock, run } = breakerFixture({ openDurationMs: 60_000 });
    run(times(5, 'Overloaded'));
    clock.advance(5_000);
    breaker.reconfigure(breakerSettings({ openDurationMs: 10_000 }));
    expect(breaker.state).toBe('Open');
    clock.advance(5_000);
    expect(breaker.state).toBe('HalfOpen');
  });

  it('lets a call in flight across a reconfiguration report its outcome', () => {
    const { breaker, clock } = breakerFixture({ openDurationMs: 1_000, successThreshold: 1 });
    for (let i = 0; i < 5; i++)
      breaker.onFailure(breaker.tryAcquire(clock.now()), 'Overloaded', 1, clock.now());
    clock.advance(1_000);
    const probe = breaker.tryAcquire(clock.now());
    breaker.reconfigure(breakerSettings({ openDurationMs: 2_000, successThreshold: 1 }));
    breaker.onSuccess(probe, 1, clock.now());
    expect(breaker.state).toBe('Closed');
  });

  it('keeps the newest calls of a count window that is resized', () => {
    const window = (size: number): BreakerSettingsPatch => ({
      failureThreshold: 100,
      failureRate: { thresholdPercent: 50, minimumCalls: 2, window: { type: 'Count', size } },
    });
    const { breaker, run } = breakerFixture(window(10));
    run(['ok', 'ok', 'ok', 'ok', 'ServerError']);
    breaker.reconfigure(breakerSettings(window(2))); // keeps [ok, ServerError]
    run(['ServerError']);
    expect(breaker.state).toBe('Open');
  });

  it('starts a time window afresh when its span changes', () => {
    const window = (sizeMs: number): BreakerSettingsPatch => ({
      failureThreshold: 100,
      failureRate: { thresholdPercent: 50, minimumCalls: 3, window: { type: 'Time', sizeMs } },
    });
    const { breaker, run } = breakerFixture(window(10_000));
    run(['ServerError', 'ServerError']);
    breaker.reconfigure(breakerSettings(window(20_000)));
    run(['ServerError', 'ok', 'ok']);
    expect(breaker.state).toBe('Closed');
  });

  it('keeps a shadow breaker’s state when it starts enforcing', () => {
    const { breaker, run } = breakerFixture({ mode: 'Shadow' });
    run(times(5, 'Overloaded'));
    breaker.reconfigure(breakerSettings({ mode: 'Enforce' }));
    expect(run(['ok'])).toBe(1);
  });

  it('gives UNCOUNTED permits to calls a Shadow breaker lets through while open', () => {
    const { breaker, clock, run } = breakerFixture({ mode: 'Shadow' });
    run(times(5, 'Overloaded'));
    expect(breaker.tryAcquire(clock.now())).toBe(UNCOUNTED);
  });
});
