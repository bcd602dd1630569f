/**
 * The admissions waiting for the store at once, bounded: a call without budgets past the bound
 * decides on the share at once; a call with budgets waits for a slot, first come first served.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import { BUDGET_ANSWER_AT_MOST_MS } from './slowStoreWait.ts';

/**
 * Admissions waiting for the store at once. Beyond this a call without budgets decides on the
 * share at once; a call with budgets waits for a slot, first come first served, within the
 * BUDGET_ANSWER_AT_MOST_MS it may wait for the store in all (decided on the share, no other
 * replica would see its hold).
 */
export const MAX_IN_FLIGHT = 256;

export class AdmissionSlots {
  readonly #clock: Clock;
  #inFlight = 0;
  /** Calls with budgets waiting for an admission slot (`wait`), first come first served. */
  readonly #slotQueue: (() => void)[] = [];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Admissions waiting for the store now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get free(): boolean {
    return this.#inFlight < MAX_IN_FLIGHT;
  }

  /** Takes a slot at once, without a turn of the event loop (free or not: a call without budgets). */
  take(): void {
    this.#inFlight++;
  }

  /**
   * One of the MAX_IN_FLIGHT slots for a call with budgets when none is free: handed over by
   * an admission that ends, within BUDGET_ANSWER_AT_MOST_MS (false: none came).
   */
  wait(): Promise<boolean> {
    return new Promise((resolve) => {
      const take = (): void => {
        stop();
        resolve(true);
      };
      const stop = this.#clock.setTimeout(() => {
        const at = this.#slotQueue.indexOf(take);
        if (at >= 0) this.#slotQueue.splice(at, 1);
        resolve(false);
      }, BUDGET_ANSWER_AT_MOST_MS);
      this.#slotQueue.push(take);
    });
  }

  /** An admission ended: its slot goes to the first call with budgets waiting, if any. */
  release(): void {
    const next = this.#slotQueue.shift();
    if (next === undefined) this.#inFlight--;
    else next();
  }
}
