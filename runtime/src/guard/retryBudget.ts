/**
 * Bounds retries so that they cannot multiply load during an outage: every first attempt
 * deposits `percent`/100 of a retry, time deposits `minPerSecond` (so a quiet agent can still
 * retry), the balance is capped at `maxBurst`, and a retry spends one. With the defaults,
 * retries add at most ~20% to the traffic a failing provider sees, however many attempts
 * each call is allowed.
 */
import { OptionChecker } from './optionValidation.ts';

export interface RetryBudgetOptions {
  /** Retries allowed per 100 first attempts. @default 20 */
  readonly percent: number;
  /** Retries allowed per second regardless of traffic. @default 1 */
  readonly minPerSecond: number;
  /** Most retries saved up. @default 10 */
  readonly maxBurst: number;
}

export type RetryBudgetOptionsInput = Partial<RetryBudgetOptions>;

export function resolveRetryBudgetOptions(
  input: RetryBudgetOptionsInput = {},
  owner = 'retry budget',
): RetryBudgetOptions {
  const check = new OptionChecker(owner);
  return Object.freeze({
    percent: check.number('budget.percent', input.percent ?? 20, 0, 1_000),
    minPerSecond: check.number('budget.minPerSecond', input.minPerSecond ?? 1, 0, 10_000),
    maxBurst: check.number('budget.maxBurst', input.maxBurst ?? 10, 1, 100_000),
  });
}

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
