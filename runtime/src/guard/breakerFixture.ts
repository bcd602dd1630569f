/**
 * Small builders for the guard's tests: a breaker on a manual clock and a way to feed it
 * outcomes as words, so tables read as sentences.
 */
import { DEFAULT_BREAKER_SETTINGS, type BreakerSettings } from './breakerOptions.ts';
import { CircuitBreaker, REJECTED } from './circuitBreaker.ts';
import type { FailureClass } from '../../../contract/src/api/vocabulary.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import { resolveBreaker } from '../../../contract/src/policy/policyResolution.ts';

export type Step =
  | FailureClass
  | 'ok'
  | 'slow'
  | 'ignored'
  /** Advance the clock by n ms: `wait:1000`. */
  | `wait:${number}`;

export interface BreakerFixture {
  readonly clock: ManualClock;
  readonly breaker: CircuitBreaker;
  /** Runs each step as one call (or a clock advance); returns how many calls were refused. */
  readonly run: (steps: readonly Step[]) => number;
}

/** The settings a test changes; the rest are the schema's defaults (see `breakerSettings`). */
export type BreakerSettingsPatch = Omit<Partial<BreakerSettings>, 'failureRate' | 'override'> & {
  readonly failureRate?: Omit<FailureRateSettings, 'minimumCalls' | 'window'> &
    Partial<Pick<FailureRateSettings, 'minimumCalls' | 'window'>>;
  readonly override?: Omit<BreakerSettings['override'], 'state'> & {
    readonly state: BreakerSettings['override']['state'];
  };
};
type FailureRateSettings = NonNullable<BreakerSettings['failureRate']>;

/** A whole policy document's breaker settings: the schema's defaults with `patch` on top. */
export function breakerSettings(patch: BreakerSettingsPatch = {}): BreakerSettings {
  const defaults = resolveBreaker({
    metadata: {},
    spec: { failureRate: { thresholdPercent: patch.failureRate?.thresholdPercent ?? 50 } },
  } as CircuitBreakerPolicy).failureRate;
  const { failureRate, ...rest } = patch;
  return {
    ...DEFAULT_BREAKER_SETTINGS,
    ...rest,
    ...(failureRate === undefined || defaults === undefined
      ? {}
      : { failureRate: { ...defaults, ...failureRate } }),
  };
}

export function breakerFixture(
  options: BreakerSettingsPatch = {},
  start = 1_000_000,
): BreakerFixture {
  const clock = new ManualClock(start);
  const breaker = new CircuitBreaker({ name: 'test', clock, options: breakerSettings(options) });
  const slowMs = (options.slowCall?.durationMs ?? 1_000) + 1;
  return {
    clock,
    breaker,
    run(steps) {
      let refused = 0;
      for (const step of steps) {
        if (step.startsWith('wait:')) {
          clock.advance(Number(step.slice(5)));
          continue;
        }
        const now = clock.now();
        const permit = breaker.tryAcquire(now);
        if (permit === REJECTED) {
          refused++;
          continue;
        }
        if (step === 'ok') breaker.onSuccess(permit, 10, now);
        else if (step === 'slow') breaker.onSuccess(permit, slowMs, now);
        else if (step === 'ignored') breaker.onIgnored(permit);
        else breaker.onFailure(permit, step as FailureClass, 10, now);
      }
      return refused;
    },
  };
}

export function times(n: number, step: Step): Step[] {
  return Array.from({ length: n }, () => step);
}
