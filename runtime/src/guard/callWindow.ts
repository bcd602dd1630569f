/**
 * The sliding window the rate rules (failure rate, slow-call rate) look at: the last N calls
 * (Count) or the calls of the last T milliseconds (Time). Totals are kept incrementally so
 * a record is O(1); storage is allocated on the first record, so an idle breaker holds none.
 */
import type { BreakerSettings } from '../../../contract/src/policy/policyDocument.ts';

/** The policy document's window: a Count window's size in calls, a Time window's in ms. */
export type WindowOptions = NonNullable<BreakerSettings['failureRate']>['window'];

export interface CallWindow {
  readonly options: WindowOptions;
  /** Calls, failures and slow calls in the window as of the last `add`. */
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
  add(failed: boolean, slow: boolean, now: number): void;
  reset(): void;
  snapshot(): WindowSnapshot;
  /** Takes the samples over when the snapshot's window has the same shape; else false. */
  restore(snapshot: WindowSnapshot): boolean;
}

export type WindowSnapshot =
  | { readonly type: 'Count'; readonly size: number; readonly outcomes: readonly number[] }
  | {
      readonly type: 'Time';
      readonly sizeMs: number;
      /** Absolute index (time / bucketMs) of the newest bucket. */
      readonly head: number;
      /** Per bucket, oldest first: [calls, failures, slow]. */
      readonly buckets: readonly (readonly [number, number, number])[];
    };

/** Bit flags for one recorded outcome in a count window. */
export const FAILED = 1;
export const SLOW = 2;

export function sameWindow(a: WindowOptions, b: WindowOptions): boolean {
  if (a.type === 'Count') return b.type === 'Count' && a.size === b.size;
  return b.type === 'Time' && a.sizeMs === b.sizeMs;
}
