/**
 * Resolved, validated circuit-breaker options: numbers in milliseconds, every default
 * applied. The policy-resolution layer maps a CircuitBreakerPolicy spec (DESIGN §2) to the
 * input type below; the breaker never sees the CR.
 */
import type { BreakerOverride, OverrideState } from './breakerState.ts';
import type { WindowOptions } from './callWindow.ts';
import { FAILURE_CLASSES, type FailureClass } from './errorClassification.ts';
import { MAX_DURATION_MS, OptionChecker } from './optionValidation.ts';

export type EnforcementMode = 'Enforce' | 'Shadow';

export interface FailureRateOptions {
  readonly thresholdPercent: number;
  readonly minimumCalls: number;
  readonly window: WindowOptions;
}

export interface SlowCallOptions {
  readonly durationMs: number;
  readonly thresholdPercent: number;
  readonly minimumCalls: number;
  readonly window: WindowOptions;
}

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  readonly failureThreshold: number;
  /** Successful probes in half-open that close it. @default 2 */
  readonly successThreshold: number;
  /** Open time before the first probe. @default 60000 */
  readonly openDurationMs: number;
  /** Each consecutive re-open doubles the open time up to this. @default openDurationMs (no growth) */
  readonly maxOpenDurationMs: number;
  /** Probes allowed at once in half-open. @default 1 */
  readonly halfOpenMaxCalls: number;
  /** @default undefined (off) */
  readonly failureRate: FailureRateOptions | undefined;
  /** @default undefined (off) */
  readonly slowCall: SlowCallOptions | undefined;
  /** Failure classes that count. @default every class but RateLimited */
  readonly failOn: readonly FailureClass[];
  /** The on-call switch; undefined when Auto. */
  readonly override: BreakerOverride | undefined;
  /** Shadow computes state and metrics but never blocks. @default 'Enforce' */
  readonly mode: EnforcementMode;
}

export type WindowInput =
  | { readonly type: 'Count'; readonly size?: number }
  | { readonly type: 'Time'; readonly sizeMs?: number };

export interface BreakerOptionsInput {
  readonly failureThreshold?: number;
  readonly successThreshold?: number;
  readonly openDurationMs?: number;
  readonly maxOpenDurationMs?: number;
  readonly halfOpenMaxCalls?: number;
  readonly failureRate?: {
    readonly thresholdPercent: number;
    readonly minimumCalls?: number;
    readonly window?: WindowInput;
  };
  readonly slowCall?: {
    readonly durationMs: number;
    readonly thresholdPercent: number;
    /** @default failureRate.minimumCalls, else 10 */
    readonly minimumCalls?: number;
    /** @default failureRate.window, else the last 100 calls */
    readonly window?: WindowInput;
  };
  readonly failOn?: readonly FailureClass[];
  readonly override?: BreakerOverride;
  readonly mode?: EnforcementMode;
}

export const DEFAULT_FAIL_ON: readonly FailureClass[] = Object.freeze([
  'ServerError',
  'Overloaded',
  'Timeout',
  'ConnectionError',
]);

const DEFAULT_WINDOW: WindowOptions = Object.freeze({ type: 'Count', size: 100 });
const DEFAULT_MINIMUM_CALLS = 10;
const MODES: readonly EnforcementMode[] = ['Enforce', 'Shadow'];
const OVERRIDES: readonly OverrideState[] = ['Auto', 'ForcedOpen', 'ForcedClosed'];

export function resolveBreakerOptions(
  input: BreakerOptionsInput = {},
  owner = 'circuit breaker',
): BreakerOptions {
  const check = new OptionChecker(owner);
  const openDurationMs = check.positive(
    'openDurationMs',
    input.openDurationMs ?? 60_000,
    MAX_DURATION_MS,
  );
  const maxOpenDurationMs = input.maxOpenDurationMs ?? openDurationMs;
  check.number('maxOpenDurationMs', maxOpenDurationMs, openDurationMs, MAX_DURATION_MS);

  let failureRate: FailureRateOptions | undefined;
  if (input.failureRate !== undefined) {
    const fr = input.failureRate;
    failureRate = Object.freeze({
      thresholdPercent: check.positive('failureRate.thresholdPercent', fr.thresholdPercent, 100),
      minimumCalls: check.integer(
        'failureRate.minimumCalls',
        fr.minimumCalls ?? DEFAULT_MINIMUM_CALLS,
        1,
        100_000,
      ),
      window: resolveWindow(check, 'failureRate.window', fr.window),
    });
  }

  let slowCall: SlowCallOptions | undefined;
  if (input.slowCall !== undefined) {
    const sc = input.slowCall;
    slowCall = Object.freeze({
      durationMs: check.positive('slowCall.durationMs', sc.durationMs, MAX_DURATION_MS),
      thresholdPercent: check.positive('slowCall.thresholdPercent', sc.thresholdPercent, 100),
      minimumCalls: check.integer(
        'slowCall.minimumCalls',
        sc.minimumCalls ?? failureRate?.minimumCalls ?? DEFAULT_MINIMUM_CALLS,
        1,
        100_000,
      ),
      window:
        sc.window === undefined && failureRate !== undefined
          ? failureRate.window
          : resolveWindow(check, 'slowCall.window', sc.window),
    });
  }

  const failOn = input.failOn ?? DEFAULT_FAIL_ON;
  failOn.forEach((c, i) => check.oneOf(`failOn[${i}]`, c, FAILURE_CLASSES));

  let override: BreakerOverride | undefined;
  if (input.override !== undefined && input.override.state !== 'Auto') {
    const o = input.override;
    check.oneOf('override.state', o.state, OVERRIDES);
    if (o.untilMs !== undefined)
      check.number('override.untilMs', o.untilMs, 0, Number.MAX_SAFE_INTEGER);
    override = Object.freeze({ state: o.state, reason: o.reason, untilMs: o.untilMs });
  } else if (input.override !== undefined) {
    check.oneOf('override.state', input.override.state, OVERRIDES);
  }

  return Object.freeze({
    failureThreshold: check.integer('failureThreshold', input.failureThreshold ?? 5, 1, 10_000),
    successThreshold: check.integer('successThreshold', input.successThreshold ?? 2, 1, 1_000),
    openDurationMs,
    maxOpenDurationMs,
    halfOpenMaxCalls: check.integer('halfOpenMaxCalls', input.halfOpenMaxCalls ?? 1, 1, 1_000),
    failureRate,
    slowCall,
    failOn: failOn === DEFAULT_FAIL_ON ? DEFAULT_FAIL_ON : Object.freeze([...new Set(failOn)]),
    override,
    mode: check.oneOf('mode', input.mode ?? 'Enforce', MODES),
  });
}

function resolveWindow(
  check: OptionChecker,
  field: string,
  input: WindowInput | undefined,
): WindowOptions {
  if (input === undefined) return DEFAULT_WINDOW;
  // Checked at run time too: the input may come from JSON.
  const type: unknown = input.type;
  if (type === 'Count') {
    const size = (input as { size?: number }).size ?? 100;
    return Object.freeze({ type: 'Count', size: check.integer(`${field}.size`, size, 1, 10_000) });
  }
  if (type === 'Time') {
    const sizeMs = (input as { sizeMs?: number }).sizeMs ?? 60_000;
    return Object.freeze({
      type: 'Time',
      sizeMs: check.number(`${field}.sizeMs`, sizeMs, 1_000, 3_600_000),
    });
  }
  return check.fail(`${field}.type`, 'one of Count, Time', type);
}

/** Open time for the n-th open in a row (n ≥ 1): doubling from openDurationMs, capped. */
export function openDurationFor(options: BreakerOptions, consecutiveOpens: number): number {
  const doubled = options.openDurationMs * 2 ** Math.max(0, Math.min(consecutiveOpens - 1, 30));
  return Math.min(options.maxOpenDurationMs, doubled);
}
