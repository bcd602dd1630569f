/**
 * How long a call with budgets waits for a store that is slower than its wait budget, but up:
 * its answer holds the call's worst case for every replica, so it is used, not dropped (a late
 * answer decided on the share is not seen by the others). Past BUDGET_ANSWER_AT_MOST_MS in all
 * the store counts as away for budgets too (`stalled`) until a probe answers (decision 0059).
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';

export const BUDGET_ANSWER_AT_MOST_MS = 2_000;
/** What a wait for the store resolves to when its time is up. */
export const TIMED_OUT = Symbol('timed out');

export class SlowStoreWait {
  readonly #clock: Clock;
  readonly #onStall: () => void;
  /** A call with budgets had no answer within BUDGET_ANSWER_AT_MOST_MS: away for budgets too. */
  #stalled = false;

  /** `onStall` hears when budgets first stall (the pod report). */
  constructor(clock: Clock, onStall: () => void) {
    this.#clock = clock;
    this.#onStall = onStall;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** A probe answered: calls with budgets wait on a slow store again. */
  reset(): void {
    this.#stalled = false;
  }

  /** `script`'s answer within BUDGET_ANSWER_AT_MOST_MS in all; past that, budgets stall too. */
  async answer(script: Promise<unknown>, waited: number): Promise<unknown> {
    let cancel: Cancel | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      cancel = this.#clock.setTimeout(
        () => {
          resolve(TIMED_OUT);
        },
        Math.max(0, BUDGET_ANSWER_AT_MOST_MS - waited),
      );
    });
    try {
      const reply = await Promise.race([script, deadline]);
      if (reply === TIMED_OUT && !this.#stalled) {
        this.#stalled = true;
        this.#onStall();
      }
      return reply;
    } finally {
      cancel?.();
    }
  }
}
