/**
 * What the ledger counts for metrics since it began: each budget's refusals (exhausted,
 * unpriced, unbounded, and Shadow's would-have-been), the calls a Fallback budget sent to a cheaper model,
 * and the settled spend by model and backend.
 */

import type { BudgetExhaustedError } from '../guard/errors.ts';

/**
 * A budget's calls turned away: refused (exhausted: Refuse, or Fallback once no cheaper model
 * fits; busy: calls in flight held what it needed past the budget's wait), refused for an
 * unpriced model or a request whose cost has no bound (unbounded), served by a cheaper model
 * instead (fallback), and Shadow's would-have-been.
 */
export interface BudgetRefusals {
  exhausted: number;
  busy: number;
  unpriced: number;
  unbounded: number;
  fallback: number;
  shadow: number;
}

/** One model at one backend, and what its settled calls cost. */
export interface SpendByTarget {
  readonly model: string;
  readonly backend: string;
  picoUsd: bigint;
}

export class BudgetTallies {
  readonly #refusals = new Map<string, BudgetRefusals>();
  /** By model, then backend: no key string built per settled call. */
  readonly #spent = new Map<string, Map<string, SpendByTarget>>();

  /** `budget`'s refusals, to count one more. */
  refused(budget: string): BudgetRefusals {
    let r = this.#refusals.get(budget);
    if (r === undefined) {
      r = { exhausted: 0, busy: 0, unpriced: 0, unbounded: 0, fallback: 0, shadow: 0 };
      this.#refusals.set(budget, r);
    }
    return r;
  }

  /**
   * Counts a refusal the caller got (budget_rejected_total): busy or exhausted, under the
   * budget it names. A Fallback budget's refusal is counted by what became of the call
   * (`fellBack`).
   */
  counted(error: BudgetExhaustedError): void {
    if (error.fallback) return;
    this.refused(error.budget)[error.reason]++;
  }

  /**
   * What became of a call that Fallback budgets turned away (`budget`, the first that refused):
   * served by a cheaper model, or refused once none fitted.
   */
  fellBack(budget: string, served: boolean): void {
    const tally = this.refused(budget);
    if (served) tally.fallback++;
    else tally.exhausted++;
  }

  /** A settled cost at one backend. */
  spent(model: string, backend: string, pico: bigint): void {
    let byBackend = this.#spent.get(model);
    if (byBackend === undefined) {
      byBackend = new Map();
      this.#spent.set(model, byBackend);
    }
    let entry = byBackend.get(backend);
    if (entry === undefined) {
      entry = { model, backend, picoUsd: 0n };
      byBackend.set(backend, entry);
    }
    entry.picoUsd += pico;
  }

  refusals(): ReadonlyMap<string, Readonly<BudgetRefusals>> {
    return this.#refusals;
  }

  *spendByTarget(): Iterable<Readonly<SpendByTarget>> {
    for (const byBackend of this.#spent.values()) yield* byBackend.values();
  }

  /** Forgets the refusals of budgets the policy no longer has. */
  retain(budgets: ReadonlySet<string>): void {
    for (const name of this.#refusals.keys()) if (!budgets.has(name)) this.#refusals.delete(name);
  }
}
