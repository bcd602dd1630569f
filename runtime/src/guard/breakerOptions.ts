/**
 * What a breaker runs with, derived from the policy document's breaker settings
 * (`BreakerSettings`: every breaker setting is declared there, with its default and bounds
 * in the schema, and checked by policyValidation.ts before a document gets here). The
 * breaker only derives what those settings imply; it neither defaults nor checks them again.
 */
import { CIRCUIT_BREAKER_POLICY_LIMITS } from '../../../contract/src/api/specLimits.ts';
import type { FailureClass, PolicyMode } from '../../../contract/src/api/vocabulary.ts';
import type { BreakerSettings } from '../../../contract/src/policy/policyDocument.ts';
import { resolveBreaker } from '../../../contract/src/policy/policyResolution.ts';
import type { BreakerOverride } from './breakerState.ts';
import type { WindowOptions } from './callWindow.ts';

export type { BreakerSettings };

/** A breaker no policy configures: the schema's defaults. */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = resolveBreaker(undefined);

/** The document's failure-rate rule, as it is. */
export type FailureRateOptions = NonNullable<BreakerSettings['failureRate']>;

export interface SlowCallOptions {
  readonly durationMs: number;
  readonly thresholdPercent: number;
  /** The failure-rate rule's, which the slow-call rule reads; the schema's defaults without one. */
  readonly minimumCalls: number;
  readonly window: WindowOptions;
}

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly successThreshold: number;
  readonly openDurationMs: number;
  /** Each consecutive re-open doubles the open time up to this; openDurationMs when unset (no growth). */
  readonly maxOpenDurationMs: number;
  readonly halfOpenMaxCalls: number;
  readonly failureRate: FailureRateOptions | undefined;
  readonly slowCall: SlowCallOptions | undefined;
  readonly failOn: readonly FailureClass[];
  /** The on-call switch; undefined when Auto. */
  readonly override: BreakerOverride | undefined;
  readonly mode: PolicyMode;
}

/** The window a slow-call rule reads when there is no failure-rate rule to share one with. */
const SLOW_CALL_WINDOW: WindowOptions = Object.freeze({
  type: 'Count',
  size: CIRCUIT_BREAKER_POLICY_LIMITS['failureRate.window.size'].default,
});
const SLOW_CALL_MINIMUM_CALLS = CIRCUIT_BREAKER_POLICY_LIMITS['failureRate.minimumCalls'].default;

export function resolveBreakerOptions(
  settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS,
): BreakerOptions {
  const failureRate = settings.failureRate;
  const sc = settings.slowCall;
  const slowCall: SlowCallOptions | undefined =
    sc === undefined
      ? undefined
      : Object.freeze({
          durationMs: sc.durationMs,
          thresholdPercent: sc.thresholdPercent,
          minimumCalls: failureRate?.minimumCalls ?? SLOW_CALL_MINIMUM_CALLS,
          window: failureRate?.window ?? SLOW_CALL_WINDOW,
        });
  const o = settings.override;
  return Object.freeze({
    failureThreshold: settings.failureThreshold,
    successThreshold: settings.successThreshold,
    openDurationMs: settings.openDurationMs,
    maxOpenDurationMs: settings.maxOpenDurationMs ?? settings.openDurationMs,
    halfOpenMaxCalls: settings.halfOpenMaxCalls,
    failureRate,
    slowCall,
    // Shared, not copied: an idle breaker holds no list of its own (a repeat is harmless: a mask).
    failOn: settings.failOn,
    override:
      o.state === 'Auto'
        ? undefined
        : Object.freeze({ state: o.state, reason: o.reason ?? '', untilMs: o.untilMs }),
    mode: settings.mode,
  });
}

/** Open time for the n-th open in a row (n ≥ 1): doubling from openDurationMs, capped. */
export function openDurationFor(options: BreakerOptions, consecutiveOpens: number): number {
  const doubled = options.openDurationMs * 2 ** Math.max(0, Math.min(consecutiveOpens - 1, 30));
  return Math.min(options.maxOpenDurationMs, doubled);
}
