/**
 * A replica's model calls as their budgets see them while they run: the leases of calls still
 * running are renewed by one timer per replica, and a call that a busy budget refused (what
 * blocks it is only what calls in flight hold) waits for them before it is refused.
 *
 * - **Renewal** (budgetLeases.ts): while any call runs, every RENEW_EVERY_MS the ledger renews
 *   its reservations held here, and the store's in one background script call (renew.lua),
 *   never past a call's own bound. A call that ends within the interval is never renewed, so
 *   renewal adds nothing to a call's path.
 * - **Waiting for held** (the budget's `waitForHeld`): a busy refusal is asked again when a
 *   reservation held here is settled or released, and at a backoff of its own (other replicas
 *   settle in the store, where nothing tells this one), until it fits, turns exhausted, or its
 *   wait is over; then the refusal goes to the caller and is counted once.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { BudgetHold } from './budgetClaim.ts';
import type { BudgetLedger } from './budgetLedger.ts';
import { RENEW_EVERY_MS } from './budgetLeases.ts';
import { isBudgetExhaustedError } from '../guard/errors.ts';
import type { RateLimiter } from '../guard/rateLimiter.ts';

/** The first look again after a busy refusal; doubled up to ASK_AT_MOST_EVERY_MS. */
const ASK_AGAIN_FIRST_MS = 10;
const ASK_AT_MOST_EVERY_MS = 250;

export class BudgetCalls {
  readonly #clock: Clock;
  readonly #ledger: BudgetLedger;
  readonly #limiter: RateLimiter;
  readonly #running = new Set<BudgetHold>();
  #renewal: Cancel | undefined;

  constructor(clock: Clock, ledger: BudgetLedger, limiter: RateLimiter) {
    this.#clock = clock;
    this.#ledger = ledger;
    this.#limiter = limiter;
  }

  /** Calls running now (tests, /debug). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Runs `call` with the hold `hold()` makes, asking again while a busy budget refuses it, for
   * up to that budget's `waitForHeld`. `hold` throws the ledger's refusal (reserve) or hands
   * back a claim the store decides inside `call`.
   */
  async run<T>(
    budgets: readonly BudgetSettings[],
    hold: () => BudgetHold | undefined,
    call: (hold: BudgetHold | undefined) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const started = this.#clock.now();
    let backoff = ASK_AGAIN_FIRST_MS;
    for (;;) {
      // One async frame for the call and its asking again: a budgeted call's every await is a
      // turn of the event loop.
      try {
        const h = hold();
        if (h === undefined) return await call(undefined);
        this.#running.add(h);
        this.#renewSoon();
        try {
          return await call(h);
        } finally {
          this.#running.delete(h);
        }
      } catch (err) {
        if (!isBudgetExhaustedError(err)) throw err;
        const waitFor = budgets.find((b) => b.name === err.budget)?.waitForHeldMs ?? 0;
        const left = started + waitFor - this.#clock.now();
        if (err.reason !== 'busy' || left <= 0 || signal.aborted) {
          this.#ledger.counted(err);
          throw err;
        }
        await this.#heldMayHaveSettled(Math.min(left, backoff), signal);
        backoff = Math.min(ASK_AT_MOST_EVERY_MS, backoff * 2);
      }
    }
  }

  /** A reservation here settled or released, `ms` passed, or the caller gave up. */
  #heldMayHaveSettled(ms: number, signal: AbortSignal): Promise<void> {
    const released = this.#ledger.whenReleased();
    const timer: { cancel?: Cancel } = {};
    const done = () => {
      timer.cancel?.();
      signal.removeEventListener('abort', done);
      released.cancel();
    };
    timer.cancel = this.#clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    return released.released.then(done);
  }

  #renewSoon(): void {
    this.#renewal ??= this.#clock.setTimeout(() => {
      this.#renewal = undefined;
      this.renewNow();
    }, RENEW_EVERY_MS);
  }

  /** Renews every running call's lease now (the timer; tests). */
  renewNow(): void {
    if (this.#running.size === 0) return;
    this.#limiter.renewBudgets(this.#ledger.renew(this.#running));
    this.#renewSoon();
  }

  close(): void {
    this.#renewal?.();
    this.#renewal = undefined;
  }
}
