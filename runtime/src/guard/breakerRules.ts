/**
 * A breaker's trip rules built from its settings, live: on a reconfiguration the rules keep
 * what is still meaningful (a window whose shape is unchanged, a count window resized with its
 * newest calls) and drop what is not (a window whose type or span changed, a rule switched
 * off). Runs when a breaker is built or its policy changes, never per call.
 */
import { slowCallWindow, type BreakerSettings } from './breakerOptions.ts';
import type { BreakerOverride } from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';
import { sameWindow, type CallWindow, type WindowOptions } from './callWindow.ts';
import type { ConsecutiveFailures } from './consecutiveFailures.ts';
import { CountWindow } from './countWindow.ts';
import type { FailureClass } from '../../../contract/src/api/vocabulary.ts';
import { FailureRate } from './failureRate.ts';
import { SlowCallRate } from './slowCallRate.ts';
import { TimeWindow } from './timeWindow.ts';

export interface BreakerRules {
  /** One bit per failure class the breaker counts (`failOn`). */
  readonly failOnMask: number;
  readonly shadow: boolean;
  /** A call this long or longer is slow; Infinity without a slow-call rule. */
  readonly slowMs: number;
  /** Whether outcomes need the call's duration and time (a slow-call rule, a time window). */
  readonly needsDuration: boolean;
  readonly failureRate: FailureRate | undefined;
  readonly slowCall: SlowCallRate | undefined;
  /** The consecutive-failure rule first, then the rate rules the settings switch on. */
  readonly strategies: TripStrategy[];
}

export function breakerRules(
  next: BreakerSettings,
  previous: BreakerSettings | undefined,
  consecutive: ConsecutiveFailures,
  currentFailureRate: FailureRate | undefined,
  currentSlowCall: SlowCallRate | undefined,
): BreakerRules {
  consecutive.reconfigure(next);
  const fr = next.failureRate;
  const failureRate =
    fr === undefined
      ? undefined
      : new FailureRate(
          carryWindow(currentFailureRate?.window, previous?.failureRate?.window, fr.window),
          fr.thresholdPercent,
          fr.minimumCalls,
        );
  const sc = next.slowCall;
  let slowCall: SlowCallRate | undefined;
  if (sc !== undefined) {
    const reads = slowCallWindow(next);
    const shared = failureRate?.window;
    if (shared !== undefined && sameWindow(shared.options, reads.window)) {
      slowCall = new SlowCallRate(shared, sc.thresholdPercent, reads.minimumCalls, true);
    } else {
      const old = currentSlowCall;
      const before = previous?.slowCall === undefined ? undefined : slowCallWindow(previous).window;
      // A window that was shared belongs to the failure-rate rule: take a copy, not it.
      const window = old?.sharesWindow
        ? carryWindow(undefined, undefined, reads.window, old.window)
        : carryWindow(old?.window, before, reads.window);
      slowCall = new SlowCallRate(window, sc.thresholdPercent, reads.minimumCalls);
    }
  }
  const strategies: TripStrategy[] = [consecutive];
  if (failureRate) strategies.push(failureRate);
  if (slowCall) strategies.push(slowCall);
  return {
    failOnMask: next.failOn.reduce((mask, c) => mask | classBit(c), 0),
    shadow: next.mode === 'Shadow',
    slowMs: next.slowCall?.durationMs ?? Infinity,
    needsDuration: next.slowCall !== undefined || next.failureRate?.window.type === 'Time',
    failureRate,
    slowCall,
    strategies,
  };
}

export function classBit(c: FailureClass): number {
  switch (c) {
    case 'ServerError':
      return 1;
    case 'Overloaded':
      return 2;
    case 'Timeout':
      return 4;
    case 'ConnectionError':
      return 8;
    case 'RateLimited':
      return 16;
  }
}

export function sameOverride(
  a: BreakerOverride | undefined,
  b: BreakerOverride | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.state === b.state && a.reason === b.reason && a.untilMs === b.untilMs;
}

function carryWindow(
  current: CallWindow | undefined,
  previous: WindowOptions | undefined,
  next: WindowOptions,
  copyFrom: CallWindow | undefined = current,
): CallWindow {
  if (current !== undefined && previous !== undefined && sameWindow(previous, next)) return current;
  if (next.type === 'Count') {
    const window = new CountWindow(next.size);
    if (copyFrom instanceof CountWindow) window.replay(copyFrom.outcomes());
    return window;
  }
  const window = new TimeWindow(next.sizeMs);
  if (copyFrom instanceof TimeWindow && copyFrom.options.sizeMs === next.sizeMs) {
    window.restore(copyFrom.snapshot());
  }
  return window;
}
