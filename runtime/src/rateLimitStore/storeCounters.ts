/** What the store has counted, for metrics, /debug and the benchmark. */

export interface StoreCounters {
  /** Admissions the store answered in time. */
  readonly answered: number;
  /** Admissions it did not answer within its budget. */
  readonly timedOut: number;
  /** Of those, the ones it answered afterwards: what they charged and held was given back. */
  readonly late: number;
  /** Admissions, settlements and pauses that failed. */
  readonly errors: number;
  /** Times it fell back to the local share. */
  readonly fallbacks: number;
  /** Writes the primary took that no replica confirmed in time (`acknowledge: Replicas`). */
  readonly unacknowledged: number;
  /**
   * Budget settlements sent again to a connection made ready, after the store had answered
   * them (recentSettlements.ts): counted again nowhere it already had them.
   */
  readonly resent: number;
  /** The longest any admission waited for the store, in ms (the budget bounds it). */
  readonly slowestAdmitMs: number;
  /**
   * The longest wait of each of the last minute's seconds that had admissions, oldest first:
   * `[epoch second, ms]`. A benchmark reads the seconds of one phase from it.
   */
  readonly slowestAdmitBySecond: readonly (readonly [number, number])[];
}

/** The last minute's seconds the slowest waits are kept for. */
const SECONDS_KEPT = 60;

export class StoreTally {
  answered = 0;
  timedOut = 0;
  late = 0;
  errors = 0;
  fallbacks = 0;
  unacknowledged = 0;
  resent = 0;
  #slowestAdmitMs = 0;
  readonly #slowestBySecond: [number, number][] = [];

  /** An admission waited `ms` for the store, at `now`. */
  recordWait(ms: number, now: number): void {
    if (ms > this.#slowestAdmitMs) this.#slowestAdmitMs = ms;
    const second = Math.floor(now / 1000);
    const seconds = this.#slowestBySecond;
    const last = seconds[seconds.length - 1];
    if (last?.[0] === second) {
      if (ms > last[1]) last[1] = ms;
      return;
    }
    seconds.push([second, ms]);
    if (seconds.length > SECONDS_KEPT) seconds.shift();
  }

  counters(): StoreCounters {
    return {
      answered: this.answered,
      timedOut: this.timedOut,
      late: this.late,
      errors: this.errors,
      fallbacks: this.fallbacks,
      unacknowledged: this.unacknowledged,
      resent: this.resent,
      slowestAdmitMs: this.#slowestAdmitMs,
      slowestAdmitBySecond: this.#slowestBySecond.map(([second, ms]) => [second, ms] as const),
    };
  }
}
