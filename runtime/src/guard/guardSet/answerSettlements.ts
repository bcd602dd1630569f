/**
 * Calls whose budgets settle after their answer is written rather than before (decision 0053):
 * pricing the usage and queuing the store's settlement cost tens of microseconds in a process
 * idle between calls. setImmediate runs before the process reads its next request, so whatever
 * comes next (a call, /debug, a status report) sees the call settled; meanwhile its worst case
 * stays held, which can only refuse early, never overspend.
 */
import type { BudgetHold } from '../budgetGate.ts';

export class AnswerSettlements {
  #waiting = new Set<BudgetHold>();
  /** A turn is due that settles every call waiting: one per turn, not one per call. */
  #due = false;

  /** Settles `hold` on the next turn of the event loop, in the order the calls ended. */
  later(hold: BudgetHold): void {
    this.#waiting.add(hold);
    if (this.#due) return;
    this.#due = true;
    setImmediate(() => {
      this.#due = false;
      const waiting = this.#waiting;
      this.#waiting = new Set();
      for (const h of waiting) h.settle();
    });
  }

  /** Settles every call still waiting for its turn, now (shutdown). */
  settleAll(): void {
    for (const hold of this.#waiting) hold.settle();
    this.#waiting.clear();
  }
}

/**
 * Resolves once every call answered so far has settled its budgets: what a process does before
 * it reads its next request, for callers (tests) that look at the spend without one.
 */
export function budgetsSettled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
