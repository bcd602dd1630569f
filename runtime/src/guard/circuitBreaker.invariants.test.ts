/**
 * Properties that must hold whatever happens, checked over long seeded random runs:
 * calls arriving and finishing in any order with any outcome while the clock jumps.
 */
import { describe, expect, it } from '@jest/globals';
import { breakerSettings, type BreakerSettingsPatch } from './breakerFixture.ts';
import { CircuitBreaker, REJECTED } from './circuitBreaker.ts';
import { FAILURE_CLASSES } from '../../../contract/src/api/vocabulary.ts';
import { seededRandom, type Random } from '../../../platform/src/random/random.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

interface InFlight {
  readonly permit: number;
  /** The half-open period it probes (its `since`), if it was admitted as a probe. */
  readonly probeOf: number | undefined;
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Drives a breaker at random; calls `check` after every step. */
function simulate(
  seed: number,
  options: BreakerSettingsPatch,
  check: (breaker: CircuitBreaker, inFlight: readonly InFlight[], refused: boolean) => void,
): void {
  const random = seededRandom(seed);
  const clock = new ManualClock(1_000_000);
  const breaker = new CircuitBreaker({
    name: `sim-${seed}`,
    clock,
    options: breakerSettings(options),
  });
  const inFlight: InFlight[] = [];
  for (let step = 0; step < 3_000; step++) {
    const roll = random();
    let refused = false;
    if (roll < 0.45) {
      const state = breaker.state;
      const since = breaker.since;
      const permit = breaker.tryAcquire(clock.now());
      if (permit === REJECTED) refused = true;
      else inFlight.push({ permit, probeOf: state === 'HalfOpen' ? since : undefined });
    } else if (roll < 0.85 && inFlight.length > 0) {
      const i = Math.floor(random() * inFlight.length);
      const [call] = inFlight.splice(i, 1);
      if (call === undefined) continue;
      const outcome = random();
      const now = clock.now();
      const duration = Math.floor(random() * 4_000);
      if (outcome < 0.5)
        breaker.onFailure(call.permit, pick(random, FAILURE_CLASSES), duration, now);
      else if (outcome < 0.9) breaker.onSuccess(call.permit, duration, now);
      else breaker.onIgnored(call.permit);
    } else {
      clock.advance(Math.floor(random() * 400));
    }
    check(breaker, inFlight, refused);
  }
}

const SEEDS = Array.from({ length: 12 }, (_, i) => i + 1);

describe('CircuitBreaker invariants', () => {
  it.each(
    SEEDS.flatMap((seed) => [1, 2, 3].map((halfOpenMaxCalls) => [seed, halfOpenMaxCalls] as const)),
  )(
    'never runs more than halfOpenMaxCalls probes at once (seed %i, halfOpenMaxCalls %i)',
    (seed, halfOpenMaxCalls) => {
      let sawHalfOpen = false;
      simulate(
        seed,
        {
          failureThreshold: 2,
          successThreshold: 2,
          openDurationMs: 500,
          maxOpenDurationMs: 2_000,
          halfOpenMaxCalls,
        },
        (breaker, inFlight) => {
          if (breaker.state !== 'HalfOpen') return;
          sawHalfOpen = true;
          const period = breaker.since;
          const probes = inFlight.filter((c) => c.probeOf === period).length;
          expect(probes).toBeLessThanOrEqual(halfOpenMaxCalls);
        },
      );
      expect(sawHalfOpen).toBe(true);
    },
  );

  it.each(SEEDS)('never refuses a call in Shadow mode, though it opens (seed %i)', (seed) => {
    const states = new Set<string>();
    simulate(
      seed,
      {
        mode: 'Shadow',
        failureThreshold: 2,
        openDurationMs: 500,
        failureRate: {
          thresholdPercent: 40,
          minimumCalls: 5,
          window: { type: 'Time', sizeMs: 2_000 },
        },
        slowCall: { durationMs: 3_000, thresholdPercent: 30 },
      },
      (breaker, _inFlight, refused) => {
        states.add(breaker.state);
        expect(refused).toBe(false);
      },
    );
    expect(states).toContain('Open');
  });

  it.each(SEEDS)(
    'never refuses in Shadow mode under a ForcedOpen override either (seed %i)',
    (seed) => {
      simulate(
        seed,
        { mode: 'Shadow', override: { state: 'ForcedOpen', reason: 'drill' } },
        (_b, _f, refused) => {
          expect(refused).toBe(false);
        },
      );
    },
  );
});
