/**
 * What a guard is made of: its target, its configuration and the counters it keeps. The guard
 * itself, and what one call asks of it, are guard.ts.
 */
import type { Random } from '../../../platform/src/random/random.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';
import type { ErrorClassifier } from './classification.ts';
import type { RateLimiter } from './rateLimiter.ts';
import type { RetryOptions } from './retry.ts';
import type { RetryBudgetOptions } from './retryBudget.ts';
import type { TimeoutOptions } from './timeout.ts';

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

export interface GuardCounters {
  readonly calls: number;
  readonly retries: number;
  readonly retryBudgetExhausted: number;
  readonly timeouts: number;
}
