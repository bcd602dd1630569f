/**
 * What this process reports of durable runs on its pod (`breakwater.dev/durable-runs`): the
 * runs it served a call of lately, the runs it resumed and saw diverge, the calls it replayed,
 * and whether it reaches the journal's store — with when that last changed, so the operator's
 * condition and on-call see since when calls go unjournaled.
 */
import {
  ACTIVE_RUN_WINDOW_MS,
  type DurableReport,
  type DurableStoreReason,
  type DurableStoreReport,
  type DurableStoreState,
} from '../../../contract/src/reporting/durableReport.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';

/** Runs remembered as active at most: bounds the memory a flood of run ids can take. */
export const MAX_TRACKED_RUNS = 10_000;

export class RunActivity {
  readonly #clock: Clock;
  /** Run key → when a call of it last came; oldest first (a Map keeps insertion order). */
  readonly #lastCall = new Map<string, number>();
  #resumed = 0;
  #diverged = 0;
  #replayed = 0;
  #store: DurableStoreReport;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#store = { state: 'Connecting', since: this.#now() };
  }

  /** A call of the run came. */
  called(run: string): void {
    this.#lastCall.delete(run);
    this.#lastCall.set(run, this.#clock.now());
    if (this.#lastCall.size > MAX_TRACKED_RUNS) {
      const oldest = this.#lastCall.keys().next().value;
      if (oldest !== undefined) this.#lastCall.delete(oldest);
    }
  }

  resumed(): void {
    this.#resumed++;
  }

  diverged(): void {
    this.#diverged++;
  }

  replayed(): void {
    this.#replayed++;
  }

  /** The store's state; `since` moves only when the state or the reason changes. */
  store(state: DurableStoreState, reason?: DurableStoreReason, message?: string): void {
    const current = this.#store;
    if (current.state === state && current.reason === reason && current.message === message) return;
    const since =
      current.state === state && current.reason === reason ? current.since : this.#now();
    this.#store = {
      state,
      ...(reason === undefined ? {} : { reason }),
      ...(message === undefined ? {} : { message }),
      since,
    };
  }

  /** Runs with a call in the last ACTIVE_RUN_WINDOW_MS. */
  active(): number {
    const horizon = this.#clock.now() - ACTIVE_RUN_WINDOW_MS;
    for (const [run, at] of this.#lastCall) {
      if (at > horizon) break;
      this.#lastCall.delete(run);
    }
    return this.#lastCall.size;
  }

  report(): DurableReport {
    return {
      active: this.active(),
      resumed: this.#resumed,
      diverged: this.#diverged,
      replayed: this.#replayed,
      store: this.#store,
    };
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
