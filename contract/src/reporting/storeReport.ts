/**
 * The `breakwater.dev/rate-limit-store` pod annotation: whether a runtime's rate limiter is
 * deciding on the store (RateLimitPolicy spec.store) or has fallen back to its own
 * per-replica share, and why. The operator turns the pods' reports into the RateLimitPolicy's
 * StoreAvailable condition. Absent on pods whose policy names no store; a sibling of
 * `breakwater.dev/breakers` rather than a field in it, so older operators and runtimes read
 * each other unchanged.
 *
 *   {"state":"Fallback","reason":"AuthenticationFailed","message":"WRONGPASS …","since":"2026-11-22T19:00:00.000Z"}
 *   {"state":"Fallback","reason":"Slow","budgets":"Store","since":"2026-11-27T10:00:00.000Z"}
 *
 * `budgets` says where a replica whose limits have fallen back still decides its budgets: a
 * slow store keeps deciding them (a budgeted call waits up to 2 s for its answer, decision
 * 0059), so `Store`; absent means the same place as the limits.
 */
import { readReportObject } from './reportJson.ts';
export const RATE_LIMIT_STORE_ANNOTATION = 'breakwater.dev/rate-limit-store';

export type StoreReportState = 'Shared' | 'Fallback';

/** Where budgets are decided while the limits are on the share (absent: with the limits). */
export type StoreBudgetsPlace = 'Store';

/** Why a replica is on its fallback share. */
export type StoreFallbackReason =
  | 'Connecting'
  | 'Unreachable'
  | 'Slow'
  | 'AuthenticationFailed'
  | 'SecretMissing'
  | 'StoreError'
  /** The server is a replica, loading, or cut off from its primary (READONLY, LOADING, MASTERDOWN). */
  | 'FailingOver';

export interface StoreReport {
  readonly state: StoreReportState;
  readonly reason?: StoreFallbackReason;
  /** What the store or the connection said, shortened. */
  readonly message?: string;
  /** When it entered this state (RFC 3339). */
  readonly since: string;
  /** Budgets still decided on the store while the limits are not (a slow store). */
  readonly budgets?: StoreBudgetsPlace;
}

const MAX_MESSAGE = 200;

export function encodeStoreReport(report: StoreReport | undefined): string {
  if (report === undefined) return '';
  return JSON.stringify({
    state: report.state,
    ...(report.reason === undefined ? {} : { reason: report.reason }),
    ...(report.message === undefined ? {} : { message: report.message.slice(0, MAX_MESSAGE) }),
    since: report.since,
    ...(report.budgets === undefined ? {} : { budgets: report.budgets }),
  });
}

const STATES: readonly string[] = ['Shared', 'Fallback'];
const REASONS: readonly string[] = [
  'Connecting',
  'Unreachable',
  'Slow',
  'AuthenticationFailed',
  'SecretMissing',
  'StoreError',
  'FailingOver',
];

/** Reads an annotation value; anything malformed reads as no report rather than a wrong one. */
export function decodeStoreReport(value: string | undefined): StoreReport | undefined {
  const e = readReportObject(value);
  if (e === undefined) return undefined;
  if (typeof e.state !== 'string' || !STATES.includes(e.state)) return undefined;
  if (typeof e.since !== 'string') return undefined;
  return {
    state: e.state as StoreReportState,
    ...(typeof e.reason === 'string' && REASONS.includes(e.reason)
      ? { reason: e.reason as StoreFallbackReason }
      : {}),
    ...(typeof e.message === 'string' ? { message: e.message.slice(0, MAX_MESSAGE) } : {}),
    since: e.since,
    ...(e.budgets === 'Store' ? { budgets: 'Store' as const } : {}),
  };
}
