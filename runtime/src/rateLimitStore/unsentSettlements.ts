/**
 * Budget settlements the store could not take (not sent, or sent and not answered: Redis may
 * have run them), kept to be sent again once it answers. Sending one twice is safe: the store
 * applies a settlement once (budget.lua's `settled` marker).
 */
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';

/**
 * Settlements kept at most; past this many the oldest are dropped (their holds lapse into
 * their worst cases, charged).
 */
export const UNSENT_AT_MOST = 10_000;

export class UnsentSettlements {
  #list: StoreBudgetSettlement[] = [];

  keep(list: readonly StoreBudgetSettlement[]): void {
    this.#list.push(...list);
    if (this.#list.length > UNSENT_AT_MOST)
      this.#list.splice(0, this.#list.length - UNSENT_AT_MOST);
  }

  /** Every settlement kept, oldest first; none are kept after. */
  take(): StoreBudgetSettlement[] {
    const list = this.#list;
    this.#list = [];
    return list;
  }
}
