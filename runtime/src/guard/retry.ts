/**
 * Retries: exponential backoff with full jitter (a random wait between 0 and the capped
 * exponential step, so retries from many callers spread out instead of arriving together),
 * never shorter than the provider's `retry-after`, only for retryable outcomes, and only
 * while the retry budget holds one.
 */
import type { Classification } from './classification.ts';
import type { Random } from '../../../platform/src/random/random.ts';
import { RETRY_BUDGET, RetryBudget, type RetryBudgetOptions } from './retryBudget.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';

/**
 * The policy document's retry settings, and its rate limit's `adaptive.honorRetryAfter`, as
 * they are: their defaults and bounds are the schema's, checked by policyValidation.ts before a
 * document gets here.
 */
export interface RetryOptions extends Readonly<PolicyDocument['retry']> {
  /** Wait at least what `retry-after` says. */
  readonly honorRetryAfter: boolean;
}

/**
 * A `retry-after` longer than this is not waited for: the error goes to the caller. Not a
 * policy setting (no schema field): declared here, once.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/** The n-th retry's wait (n ≥ 1): uniform in [0, min(maxDelay, initialDelay · 2^(n-1))). */
export function fullJitterDelay(retry: number, options: RetryOptions, random: Random): number {
  const step = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(retry - 1, 30));
  return Math.floor(random() * step);
}

/** Why a failed attempt was not retried. */
export type NoRetryReason =
  'notRetryable' | 'attemptsExhausted' | 'budgetExhausted' | 'retryAfterTooLong';

export const NO_RETRY = -1;

export class RetryPolicy {
  #options: RetryOptions;
  readonly budget: RetryBudget;
  readonly #random: Random;
  /** Why the last `nextDelay` said NO_RETRY. */
  lastRefusal: NoRetryReason = 'notRetryable';

  constructor(
    options: RetryOptions,
    random: Random,
    now: number,
    budget: RetryBudgetOptions = RETRY_BUDGET,
  ) {
    this.#options = options;
    this.#random = random;
    this.budget = new RetryBudget(budget, now);
  }

  get options(): RetryOptions {
    return this.#options;
  }

  /** Milliseconds to wait before attempt `attempt + 1`, or NO_RETRY. */
  nextDelay(c: Classification, attempt: number, now: number): number {
    const o = this.#options;
    if (!c.retryable) return this.#refuse('notRetryable');
    if (attempt >= o.maxAttempts) return this.#refuse('attemptsExhausted');
    const retryAfter = o.honorRetryAfter ? (c.retryAfterMs ?? 0) : 0;
    if (retryAfter > MAX_RETRY_AFTER_MS) return this.#refuse('retryAfterTooLong');
    if (!this.budget.tryWithdraw(now)) return this.#refuse('budgetExhausted');
    const jittered = fullJitterDelay(attempt, o, this.#random);
    return jittered > retryAfter ? jittered : retryAfter;
  }

  reconfigure(options: RetryOptions): void {
    this.#options = options;
  }

  #refuse(reason: NoRetryReason): number {
    this.lastRefusal = reason;
    return NO_RETRY;
  }
}
