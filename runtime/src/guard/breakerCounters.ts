/** What a breaker has counted, for metrics and /debug: plain numbers, read at scrape time. */
import { FAILURE_CLASSES, type FailureClass } from '../../../contract/src/api/vocabulary.ts';

export interface BreakerCounters {
  readonly successes: number;
  readonly failures: number;
  /** Outcomes that say nothing about the provider (4xx, spend limit, cancelled, not in failOn). */
  readonly ignored: number;
  readonly rejected: number;
  /** Calls a Shadow breaker would have rejected (and let through). */
  readonly shadowRejected: number;
  readonly failuresByClass: Readonly<Record<FailureClass, number>>;
  readonly trips: number;
}

/**
 * A breaker's counters as plain fields: the closed path bumps one with no allocation, and
 * `counters()` shapes them for a scrape.
 */
export class BreakerTally {
  successes = 0;
  failures = 0;
  ignored = 0;
  rejected = 0;
  shadowRejected = 0;
  /** Failures per class, indexed by class bit; allocated at the first failure. */
  byClass: number[] | undefined;
  trips = 0;
  lastTripAt: number | null = null;

  counters(): BreakerCounters {
    const failuresByClass = {} as Record<FailureClass, number>;
    FAILURE_CLASSES.forEach((c, i) => (failuresByClass[c] = this.byClass?.[i] ?? 0));
    return {
      successes: this.successes,
      failures: this.failures,
      ignored: this.ignored,
      rejected: this.rejected,
      shadowRejected: this.shadowRejected,
      failuresByClass,
      trips: this.trips,
    };
  }
}
