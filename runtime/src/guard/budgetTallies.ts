/**
 * What the ledger counts for metrics since it began: each budget's refusals (exhausted,
 * unpriced, and Shadow's would-have-been) and the settled spend by model and backend.
 */

/** A budget's refusals: exhausted (Refuse or Fallback), unpriced, and Shadow's would-have-been. */
export interface BudgetRefusals {
  exhausted: number;
  unpriced: number;
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
  readonly #spent = new Map<string, SpendByTarget>();

  /** `budget`'s refusals, to count one more. */
  refused(budget: string): BudgetRefusals {
    let r = this.#refusals.get(budget);
    if (r === undefined) {
      r = { exhausted: 0, unpriced: 0, shadow: 0 };
      this.#refusals.set(budget, r);
    }
    return r;
  }

  /** A settled cost at one backend. */
  spent(model: string, backend: string, pico: bigint): void {
    const key = `${model}\n${backend}`;
    let entry = this.#spent.get(key);
    if (entry === undefined) {
      entry = { model, backend, picoUsd: 0n };
      this.#spent.set(key, entry);
    }
    entry.picoUsd += pico;
  }

  refusals(): ReadonlyMap<string, Readonly<BudgetRefusals>> {
    return this.#refusals;
  }

  spendByTarget(): Iterable<Readonly<SpendByTarget>> {
    return this.#spent.values();
  }

  /** Forgets the refusals of budgets the policy no longer has. */
  retain(budgets: ReadonlySet<string>): void {
    for (const name of this.#refusals.keys()) if (!budgets.has(name)) this.#refusals.delete(name);
  }
}
