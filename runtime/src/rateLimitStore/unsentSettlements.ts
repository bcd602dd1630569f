/**
 * Budget settlements the store could not take (not sent, or sent and not answered: Redis may
 * have run them), kept to be sent again once it answers. Sending one again is safe while the
 * store still holds its `settled` marker (budget.lua, kept SETTLED_KEPT_MS = one hour): a
 * settlement is sent again within UNSENT_KEPT_MS of its first failure, half that, or never.
 * One never sent again leaves its hold to lapse into its worst case, charged: never less than
 * it cost (docs/guarantees.md B10).
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import type { SettlementQueue } from './settlementQueue.ts';

/**
 * Settlements kept at most; past this many the oldest are dropped (their holds lapse into
 * their worst cases, charged).
 */
export const UNSENT_AT_MOST = 10_000;

/**
 * How long after its first failure a settlement may still be sent: half the hour the store
 * keeps its marker, so that a runtime's clock running apart from Redis's cannot send one
 * again after the marker that would stop it counting twice has gone.
 */
export const UNSENT_KEPT_MS = 30 * 60_000;

export class UnsentSettlements {
  #list: StoreBudgetSettlement[] = [];
  /** When each settlement was first kept: sent again and failed again, it keeps its first time. */
  readonly #since = new WeakMap<StoreBudgetSettlement, number>();
  #expired = 0;

  keep(list: readonly StoreBudgetSettlement[], now: number): void {
    for (const s of list) if (!this.#since.has(s)) this.#since.set(s, now);
    this.#list.push(...list);
    if (this.#list.length > UNSENT_AT_MOST)
      this.#list.splice(0, this.#list.length - UNSENT_AT_MOST);
  }

  /** Every settlement kept and still safe to send, oldest first; none are kept after. */
  take(now: number): StoreBudgetSettlement[] {
    const list = this.#list;
    this.#list = [];
    const fresh = list.filter((s) => now - (this.#since.get(s) ?? now) <= UNSENT_KEPT_MS);
    this.#expired += list.length - fresh.length;
    return fresh;
  }

  /** Settlements dropped because they were kept past UNSENT_KEPT_MS. */
  get expired(): number {
    return this.#expired;
  }
}

/**
 * What becomes of the settlements the store could not take: kept while the store is open, and
 * queued again, oldest first, once it answers (they go first, ahead of new ones).
 */
export class SettlementResend {
  readonly #clock: Clock;
  /** The store was closed: nothing is kept for a store that will not answer again. */
  readonly #closed: () => boolean;
  readonly #unsent = new UnsentSettlements();

  constructor(clock: Clock, closed: () => boolean) {
    this.#clock = clock;
    this.#closed = closed;
  }

  /** Settlements that were not sent, or sent and not answered. */
  keep(list: readonly StoreBudgetSettlement[]): void {
    if (!this.#closed()) this.#unsent.keep(list, this.#clock.now());
  }

  /** The store answers again: what it could not take goes to `queue`, and the queue is sent. */
  resendTo(queue: SettlementQueue): void {
    const list = this.#unsent.take(this.#clock.now());
    if (list.length === 0) return;
    for (const s of list) queue.push(s);
    queue.flush();
  }
}
