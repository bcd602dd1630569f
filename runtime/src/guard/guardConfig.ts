/**
 * What a guard is made of and what one call asks of it: its target, its configuration, a call's
 * options (the token estimate, cancellation, where a retry fails over, the call's budgets) and
 * the counters it keeps. The guard itself is guard.ts.
 */
import type { Random } from '../../../platform/src/random/random.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';
import type { ErrorClassifier } from './classification.ts';
import type { Guard } from './guard.ts';
import type { RateLimiter } from './rateLimiter.ts';
import type { StoreBudgetClaim } from './rateLimitStore.ts';
import type { RetryOptions } from './retry.ts';
import type { RetryBudgetOptions } from './retryBudget.ts';
import type { TimeoutOptions } from './timeout.ts';
import type { TokenEstimate } from './tokenBudget.ts';

/** The model at one backend, or the tool, the guard calls, with its breaker. */
export interface GuardTarget {
  readonly name: string;
  readonly breaker: CircuitBreaker;
}

export interface GuardConfig {
  readonly name: string;
  readonly clock: Clock;
  /** What the target's errors mean: the provider's classifier, or the one for HTTP tools. */
  readonly classifier: ErrorClassifier;
  /** For retry jitter. @default Math.random */
  readonly random?: Random;
  readonly target: GuardTarget;
  readonly limiter?: RateLimiter;
  readonly bulkhead?: Bulkhead;
  /** Absent: the guard sets no deadline of its own. */
  readonly timeout?: TimeoutOptions;
  /** Absent: one attempt. */
  readonly retry?: RetryOptions;
  /** Deadlines closer together than this share a timer firing (tests use 1). */
  readonly deadlineResolutionMs?: number;
  /** The retries an outage may add. @default RETRY_BUDGET (tests use their own) */
  readonly retryBudget?: RetryBudgetOptions;
}

export interface GuardCallOptions {
  /** Token estimate to reserve against the token budget (input size, max_tokens). */
  readonly estimate?: TokenEstimate;
  /** The caller's cancellation: stops waits, and reaches the call through `attempt.signal`. */
  readonly signal?: AbortSignal;
  /** Where a retry goes instead of this guard's target (another backend), if anywhere. */
  readonly failover?: Failover;
  /** The call's budgets, decided by the store with the first admission's limits. */
  readonly budget?: StoreBudgetClaim;
}

/**
 * After a failed attempt the retry policy and budget allow to retry, `next` names the guard
 * the retry runs under (another backend's), or undefined to retry here after the backoff; a
 * retry that moves on goes at once (the backoff is for the target that just failed).
 */
export interface Failover {
  next(): Guard | undefined;
}

export interface GuardCounters {
  readonly calls: number;
  readonly retries: number;
  readonly retryBudgetExhausted: number;
  readonly timeouts: number;
}
