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
import { RESEND_BATCH } from './recentSettlements.ts';

/**
 * Sends settlements alone (settle.lua); `then(true)` once the store answered them, `then(false)`
 * once they were kept again (RedisStore's #sendSettlements).
 */
export type SendSettlements = (
  list: StoreBudgetSettlement[],
  then: (answered: boolean) => void,
) => void;

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

  /**
   * The oldest settlements kept and still safe to send, `atMost` of them, taken out; those kept
   * too long on the way are dropped.
   */
  take(now: number, atMost = Number.POSITIVE_INFINITY): StoreBudgetSettlement[] {
    const fresh: StoreBudgetSettlement[] = [];
    let i = 0;
    for (; i < this.#list.length && fresh.length < atMost; i++) {
      const s = this.#list[i] as StoreBudgetSettlement;
      if (now - (this.#since.get(s) ?? now) <= UNSENT_KEPT_MS) fresh.push(s);
      else this.#expired++;
    }
    this.#list.splice(0, i);
    return fresh;
  }

  get size(): number {
    return this.#list.length;
  }

  /** Settlements dropped because they were kept past UNSENT_KEPT_MS. */
  get expired(): number {
    return this.#expired;
  }
}

/**
 * What becomes of the settlements the store could not take: kept while the store is open, and
 * sent again once it answers, oldest first, one script call of RESEND_BATCH at a time. Written
 * at once (10,000 of them, 16 a call, through the settlement queue, as before 2026-11-29) they
 * held every other command to the same Redis up to 570 ms (bench/runtime/resendBurst.ts); one
 * call at a time, a few ms. New calls' settlements do not wait behind them.
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

  /** A resend is under way; it also takes what is kept meanwhile. */
  #sending = false;

  /**
   * The store answers again: what it could not take goes to `send`, a batch at a time, the next
   * once the last is answered. A batch kept again (the store failed it) stops the resend until
   * the store answers again and this is called anew.
   */
  resendTo(send: SendSettlements): void {
    if (this.#sending) return;
    this.#sending = true;
    this.#next(send);
  }

  #next(send: SendSettlements): void {
    const list = this.#closed() ? [] : this.#unsent.take(this.#clock.now(), RESEND_BATCH);
    if (list.length === 0) {
      this.#sending = false;
      return;
    }
    send(list, (answered) => {
      if (answered) this.#next(send);
      else this.#sending = false;
    });
  }

  /** Settlements kept, not yet sent again. */
  get kept(): number {
    return this.#unsent.size;
  }
}
