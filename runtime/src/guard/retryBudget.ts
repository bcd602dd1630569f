/**
 * Bounds retries so that they cannot multiply load during an outage: every first attempt
 * deposits `percent`/100 of a retry, time deposits `minPerSecond` (so a quiet agent can still
 * retry), the balance is capped at `maxBurst`, and a retry spends one. With the defaults,
 * retries add at most ~20% to the traffic a failing provider sees, however many attempts
 * each call is allowed.
 */
export interface RetryBudgetOptions {
  /** Retries allowed per 100 first attempts. */
  readonly percent: number;
  /** Retries allowed per second regardless of traffic. */
  readonly minPerSecond: number;
  /** Most retries saved up. */
  readonly maxBurst: number;
}

/**
 * The budget every retry policy runs with. Not a policy setting (no schema field): declared
 * here, once; tests may hand a RetryPolicy another.
 */
export const RETRY_BUDGET: RetryBudgetOptions = Object.freeze({
  percent: 20,
  minPerSecond: 1,
  maxBurst: 10,
});

export class RetryBudget {
  #options: RetryBudgetOptions;
  #ratio: number;
  #perMs: number;
  #balance: number;
  #last: number;

  constructor(options: RetryBudgetOptions, now: number) {
    this.#options = options;
    this.#ratio = options.percent / 100;
    this.#perMs = options.minPerSecond / 1000;
    this.#balance = options.maxBurst;
    this.#last = now;
  }

  /** A first attempt went out. */
  deposit(): void {
    const balance = this.#balance + this.#ratio;
    this.#balance = balance < this.#options.maxBurst ? balance : this.#options.maxBurst;
  }

  /** Spends one retry if the budget holds one. */
  tryWithdraw(now: number): boolean {
    this.#refill(now);
    if (this.#balance < 1) return false;
    this.#balance -= 1;
    return true;
  }

  get balance(): number {
    return this.#balance;
  }

  /** New ratios; the saved balance carries over, capped at the new maxBurst. */
  reconfigure(options: RetryBudgetOptions, now: number): void {
    this.#refill(now); // time so far is credited at the old rate
    this.#options = options;
    this.#ratio = options.percent / 100;
    this.#perMs = options.minPerSecond / 1000;
    this.#balance = Math.min(this.#balance, options.maxBurst);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed <= 0) return;
    this.#last = now;
    this.#balance = Math.min(this.#options.maxBurst, this.#balance + elapsed * this.#perMs);
  }
}
