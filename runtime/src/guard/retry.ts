/**
 * Retries: exponential backoff with full jitter (a random wait between 0 and the capped
 * exponential step, so retries from many callers spread out instead of arriving together),
 * never shorter than the provider's `retry-after`, only for retryable outcomes, and only
 * while the retry budget holds one.
 */
import type { Classification } from './classification.ts';
import { MAX_DURATION_MS, OptionChecker } from './optionValidation.ts';
import type { Random } from '../../../platform/src/random/random.ts';
import {
  resolveRetryBudgetOptions,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryBudgetOptionsInput,
} from './retryBudget.ts';
import { parseDuration } from '../../../contract/src/api/duration.ts';
import {
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../../../contract/src/api/specLimits.ts';

export interface RetryOptions {
  /** Attempts per target, the first included (1 = no retries). @default 3 */
  readonly maxAttempts: number;
  /** @default 500 */
  readonly initialDelayMs: number;
  /** Cap on the exponential step. @default 8000 */
  readonly maxDelayMs: number;
  /** Wait at least what `retry-after` says. @default true */
  readonly honorRetryAfter: boolean;
  /** A `retry-after` longer than this is not waited for: the error goes to the caller. @default 60000 */
  readonly maxRetryAfterMs: number;
  readonly budget: RetryBudgetOptions;
}

export interface RetryOptionsInput {
  readonly maxAttempts?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly honorRetryAfter?: boolean;
  readonly maxRetryAfterMs?: number;
  readonly budget?: RetryBudgetOptionsInput;
}

export function resolveRetryOptions(input: RetryOptionsInput = {}, owner = 'retry'): RetryOptions {
  const check = new OptionChecker(owner);
  const initialDelayMs = check.number(
    'initialDelayMs',
    input.initialDelayMs ?? parseDuration(AGENT['retry.backoff.initialDelay'].default),
    0,
    MAX_DURATION_MS,
  );
  return Object.freeze({
    maxAttempts: check.integer(
      'maxAttempts',
      input.maxAttempts ?? AGENT['retry.maxAttempts'].default,
      1,
      20,
    ),
    initialDelayMs,
    maxDelayMs: check.number(
      'maxDelayMs',
      input.maxDelayMs ?? Math.max(8_000, initialDelayMs),
      initialDelayMs,
      MAX_DURATION_MS,
    ),
    honorRetryAfter: input.honorRetryAfter ?? RATE['adaptive.honorRetryAfter'].default,
    maxRetryAfterMs: check.number(
      'maxRetryAfterMs',
      input.maxRetryAfterMs ?? 60_000,
      0,
      MAX_DURATION_MS,
    ),
    budget: resolveRetryBudgetOptions(input.budget, owner),
  });
}

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

  constructor(options: RetryOptions, random: Random, now: number) {
    this.#options = options;
    this.#random = random;
    this.budget = new RetryBudget(options.budget, now);
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
    if (retryAfter > o.maxRetryAfterMs) return this.#refuse('retryAfterTooLong');
    if (!this.budget.tryWithdraw(now)) return this.#refuse('budgetExhausted');
    const jittered = fullJitterDelay(attempt, o, this.#random);
    return jittered > retryAfter ? jittered : retryAfter;
  }

  reconfigure(options: RetryOptions, now: number): void {
    this.#options = options;
    this.budget.reconfigure(options.budget, now);
  }

  #refuse(reason: NoRetryReason): number {
    this.lastRefusal = reason;
    return NO_RETRY;
  }
}
