/**
 * A breaker's state as a discriminated union. The automatic machine is Closed → Open →
 * HalfOpen → Closed (or back to Open); an `override` from the policy sits on top of it and
 * is reported as ForcedOpen / ForcedClosed while it lasts.
 */

import type {
  AutoBreakerState,
  OverrideState,
  ReportedBreakerState,
} from '../../../contract/src/api/vocabulary.ts';

export type { OverrideState };
/** The guard's names for the contract's breaker states. */
export type AutoStateName = AutoBreakerState;
export type BreakerStateName = ReportedBreakerState;

export interface ClosedState {
  readonly kind: 'Closed';
  readonly since: number;
}

export interface OpenState {
  readonly kind: 'Open';
  readonly since: number;
  /** When the next call is let through as a probe (the lazy Open → HalfOpen edge). */
  readonly until: number;
}

export interface HalfOpenState {
  readonly kind: 'HalfOpen';
  readonly since: number;
  /** Probes running now; at most `halfOpenMaxCalls`. */
  probes: number;
  /** Probes that succeeded since this half-open period began. */
  successes: number;
}

export type AutoState = ClosedState | OpenState | HalfOpenState;

export interface BreakerOverride {
  readonly state: OverrideState;
  readonly reason: string;
  /** Epoch ms after which the override lapses by itself; undefined = until changed. */
  readonly untilMs?: number | undefined;
}

/** Why a breaker changed state. */
export type TransitionReason =
  | 'consecutiveFailures'
  | 'failureRate'
  | 'slowCallRate'
  | 'openDurationElapsed'
  | 'probeFailed'
  | 'probeSlow'
  | 'probesSucceeded'
  | 'overrideApplied'
  | 'overrideExpired'
  | 'overrideRemoved'
  | 'restored';

/** The reasons a Closed breaker trips; each strategy reports one. */
export type TripReason = 'consecutiveFailures' | 'failureRate' | 'slowCallRate';

export interface StateChangeEvent {
  readonly breaker: string;
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  readonly reason: TransitionReason;
  /** Clock time of the change (for a lazy edge: when it was noticed, see README). */
  readonly at: number;
}

export function reportedState(
  auto: AutoState,
  override: BreakerOverride | undefined,
): BreakerStateName {
  if (override === undefined || override.state === 'Auto') return auto.kind;
  return override.state;
}
