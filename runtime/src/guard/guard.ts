/**
 * The guard: every model and tool call goes through it.
 *
 * Order, outermost first:
 *
 *   retry → [breaker fail-fast] → rate limit → bulkhead → breaker → timeout → call
 *
 * A retry may move to another target (`failover`), admitted and counted by that target's
 * breaker, on the first target's retry policy and budget.
 *
 * DESIGN §1 names the per-call policies ratelimit → bulkhead → breaker → timeout; retry is a
 * loop around them rather than a layer inside the timeout, because:
 * - every attempt, retries included, is charged to the rate limiter and the token budget,
 *   takes a bulkhead slot only while it runs (not while it backs off), and is counted by
 *   the breaker: what the provider sees is what the guard counts;
 * - a retry therefore also stops as soon as the breaker opens, and the retry budget bounds
 *   how many retries an outage can add;
 * Before charging the limiter or queueing for a slot, the target's breaker is asked whether
 * it would refuse: a call bound for an open breaker fails fast (and the model router moves on
 * to the next backend or fallback model, each behind a guard of its own) without spending a
 * rate token or waiting in the bulkhead queue. If it refuses at acquisition anyway (half-open
 * probes taken meanwhile), the rate token is refunded.
 *
 * The closed path (breaker Closed, a slot and a rate token free) is decided synchronously in
 * `execute` and runs the call with one GuardAttempt and one `then` on its promise (no async
 * frame: 30 % of the guard's own cost in bench-guard); counters are
 * plain fields (metrics.ts reads them at scrape time). The clock is read once for the rate
 * limiter, and after the call only when a slow-call rule or a time window needs the duration.
 */
import type { Bulkhead } from './bulkhead.ts';
import { REJECTED } from './circuitBreaker.ts';
import {
  classifyOnce,
  isFailureClass,
  type Classification,
  type ErrorClassifier,
} from './classification.ts';
import { CancelledError } from './errors.ts';
import { GuardAttempt, type AttemptDeadline, type AttemptHost } from './guardAttempt.ts';
import type { GuardConfig, GuardCounters, GuardTarget } from './guardConfig.ts';
import type { HeaderSource } from './headers.ts';
import { UNCHARGED, type Charge, type RateLimiter } from './rateLimiter.ts';
import type { StoreBudgetClaim } from './rateLimitStore.ts';
import { systemRandom, type Random } from '../../../platform/src/random/random.ts';
import { NO_RETRY, RetryPolicy, type RetryOptions } from './retry.ts';
import { DeadlineTimer, DEADLINE_RESOLUTION_MS, type TimeoutOptions } from './timeout.ts';
import type { TokenEstimate } from './tokenBudget.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { sleep } from '../../../platform/src/time/sleep.ts';

export interface GuardCallOptions {
  /** Token estimate to reserve against the token budget (input size, max_tokens). */
  readonly estimate?: TokenEstimate;
  /** The caller's cancellation: stops waits, and reaches the call through `attempt.signal`. */
  readonly signal?: AbortSignal;
  /** Where a retry goes instead of this guard's target (another backend), if anywhere. */
  readonly failover?: Failover;
  /** The call's budgets, decided by the store with the first admission's limits. */
  readonly budget?: StoreBudgetClaim;
  /** What the call's budgets hold, asked for room before each retry (budgetClaim.ts). */
  readonly held?: RetryRoom;
}

/**
 * A call's budget hold as its retries see it: before each, room for what the attempts so far
 * may cost beside the next one's worst case, or the budget's refusal (thrown); with a store,
 * asked with the retry's admission (`budget.pending`).
 */
export interface RetryRoom {
  beforeRetry(): void;
}

/**
 * After a failed attempt the retry policy and budget allow to retry, `next` names the guard
 * the retry runs under (another backend's), or undefined to retry here after the backoff; a
 * retry that moves on goes at once (the backoff is for the target that just failed).
 */
export interface Failover {
  next(): Guard | undefined;
}

const NO_OPTIONS: GuardCallOptions = Object.freeze({});
const NO_TOKENS: TokenEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0 });

export class Guard implements AttemptHost {
  readonly name: string;
  readonly #clock: Clock;
  readonly #classifier: ErrorClassifier;
  readonly #random: Random;
  readonly #target: GuardTarget;
  readonly #limiter: RateLimiter | undefined;
  readonly #bulkhead: Bulkhead | undefined;
  #timeout: TimeoutOptions | undefined;
  readonly #deadlines: DeadlineTimer;
  #retry: RetryPolicy | undefined;

  #calls = 0;
  #retries = 0;
  #retryBudgetExhausted = 0;
  #timeouts = 0;

  constructor(config: GuardConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#classifier = config.classifier;
    this.#random = config.random ?? systemRandom;
    this.#limiter = config.limiter;
    this.#bulkhead = config.bulkhead;
    this.#target = config.target;
    this.#timeout = config.timeout;
    this.#deadlines = new DeadlineTimer(
      config.clock,
      config.deadlineResolutionMs ?? DEADLINE_RESOLUTION_MS,
    );
    this.#retry =
      config.retry === undefined
        ? undefined
        : new RetryPolicy(config.retry, this.#random, config.clock.now(), config.retryBudget);
  }

  /**
   * Runs `fn` under the guard. `fn` is called once per attempt with a GuardAttempt; pass
   * `attempt.sdkOptions()` to the SDK. Resolves with the first
   * successful attempt's value; rejects with the guard's own errors (RateLimitedError,
   * BulkheadFullError, CircuitOpenError, TimeoutError, CancelledError) or the last
   * attempt's error.
   *
   * The common case (breaker closed, a bulkhead slot and a rate token free) is decided
   * synchronously here and costs one `then` on the call's promise; any wait,
   * refusal or retry continues in #admit.
   */
  execute<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions = NO_OPTIONS,
  ): Promise<T> {
    this.#calls++;
    this.#retry?.budget.deposit();
    const target = this.#target;
    const permit = target.breaker.closedPermit();
    if (permit >= 0) {
      const bulkhead = this.#bulkhead;
      if (bulkhead === undefined || bulkhead.tryEnter()) {
        const limiter = this.#limiter;
        if (limiter === undefined) {
          // Nothing before the call needs the time: read it only if the call's duration
          // counts. NaN (unread) makes any duration NaN, which is never slow.
          const now =
            target.breaker.needsDuration || this.#timeout !== undefined
              ? this.#clock.now()
              : Number.NaN;
          return this.#attempt(fn, options, 1, permit, now, false);
        }
        const now = this.#clock.now();
        // An undecided budget claim goes to the store with the limits (#admit).
        if (
          options.budget?.pending === undefined &&
          limiter.tryAdmitNow(now, options.estimate ?? NO_TOKENS)
        ) {
          return this.#attempt(fn, options, 1, permit, now, 'local');
        }
        bulkhead?.cancelEnter();
      }
    }
    return this.#admit(fn, options, 1);
  }

  /**
   * Admits attempt `attempt` the long way: fail fast on an open breaker, wait for the limiter
   * and the bulkhead when told to.
   */
  async #admit<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions,
    attempt: number,
  ): Promise<T> {
    const clock = this.#clock;
    const limiter = this.#limiter;
    const bulkhead = this.#bulkhead;
    const estimate = options.estimate ?? NO_TOKENS;
    const signal = options.signal;
    const breaker = this.#target.breaker;
    let now = clock.now();
    if (breaker.isRejecting(now)) {
      breaker.tryAcquire(now); // counts the refusal
      throw breaker.rejection(now);
    }
    let charged: Charge = false;
    if (limiter !== undefined) {
      let wait: number;
      if (limiter.sharing) {
        // The store answers within its budget, or the local share decides.
        const admission = await limiter.admitWithStore(now, estimate, options.budget);
        wait = admission.waitMs;
        charged = admission.charge;
        now = clock.now();
      } else {
        // The store was detached since the claim was made: the share decides it.
        if (options.budget?.pending !== undefined) options.budget.holdLocally();
        wait = limiter.admit(now, estimate);
        charged = wait === UNCHARGED ? false : 'local';
      }
      if (wait > 0) {
        await this.#pause(wait, signal, charged ? estimate : undefined, charged);
        now = clock.now();
      }
    }
    if (bulkhead !== undefined && !bulkhead.tryEnter()) {
      try {
        await bulkhead.enter(signal);
      } catch (err) {
        if (charged) limiter?.refund(estimate, charged);
        throw err;
      }
      now = clock.now();
    }
    const permit = breaker.tryAcquire(now);
    if (permit !== REJECTED) return this.#attempt(fn, options, attempt, permit, now, charged);
    bulkhead?.release();
    if (charged) limiter?.refund(estimate, charged);
    throw breaker.rejection(now);
  }

  /** Runs one admitted attempt; its success settled in #succeeded, a failure in #failed. */
  #attempt<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions,
    attempt: number,
    permit: number,
    start: number,
    charged: Charge,
  ): Promise<T> {
    const timeout = this.#timeout;
    const a = new GuardAttempt(this, this.#target.name, attempt, options.signal);
    let running: Promise<T>;
    try {
      running = timeout === undefined ? fn(a) : this.#race(fn, a, timeout.timeoutMs, start);
    } catch (err) {
      return this.#failed(err, fn, options, attempt, permit, start, charged, a);
    }
    return running.then(
      (value) => this.#succeeded(value, options, permit, start, charged, a),
      (err: unknown) => this.#failed(err, fn, options, attempt, permit, start, charged, a),
    );
  }

  #succeeded<T>(
    value: T,
    options: GuardCallOptions,
    permit: number,
    start: number,
    charged: Charge,
    a: GuardAttempt,
  ): T {
    const deadline = a.deadline;
    if (deadline !== undefined) this.#deadlines.remove(deadline);
    this.#bulkhead?.release();
    const breaker = this.#target.breaker;
    if (breaker.needsDuration) {
      const end = this.#clock.now();
      // A stream is as slow as its first event: its length is the answer's, not the provider's.
      breaker.onSuccess(permit, (a.firstEventAt ?? end) - start, end);
    } else {
      breaker.onSuccess(permit, 0, start);
    }
    const usage = a.usage;
    if (usage !== undefined && charged)
      this.#limiter?.settle(options.estimate ?? NO_TOKENS, usage, charged);
    return value;
  }

  async #failed<T>(
    err: unknown,
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions,
    attempt: number,
    permit: number,
    start: number,
    charged: Charge,
    a: GuardAttempt,
  ): Promise<T> {
    const breaker = this.#target.breaker;
    const limiter = this.#limiter;
    const deadline = a.deadline;
    if (deadline !== undefined) this.#deadlines.remove(deadline);
    this.#bulkhead?.release();
    const end = this.#clock.now();
    // Classified here unless the attempt already did (GuardAttempt.classify); carried on `err`.
    const c = classifyOnce(this.#classifier, err, end);
    const outcome = c.outcome;
    const duration = (a.firstEventAt ?? end) - start;
    if (isFailureClass(outcome)) breaker.onFailure(permit, outcome, duration, end);
    else breaker.onIgnored(permit);
    // The runtime's own limits past the deadline (a stream's idle and duration limits) time an
    // attempt out too; a provider's answer that says it timed out (it has headers) is not ours.
    if (outcome === 'Timeout' && !a.expired && this.#classifier.headersOf(err) === undefined)
      this.#timeouts++;
    if (limiter !== undefined) {
      const headers = this.#classifier.headersOf(err);
      if (headers !== undefined) limiter.observeHeaders(headers, end);
      if (outcome === 'RateLimited' && c.retryAfterMs !== undefined) {
        limiter.observeRetryAfter(c.retryAfterMs, end);
      }
      // A failed call's output was never produced; its input only counts when reported.
      if (charged) limiter.settle(options.estimate ?? NO_TOKENS, a.usage ?? NO_TOKENS, charged);
    }
    // Part of this answer reached the caller: nothing may be spliced onto it. Nor is anything
    // tried again for a caller that has left (an attempt read to its end for its usage).
    if (a.committed || options.signal?.aborted === true) throw err;
    const retry = this.#retry;
    if (retry !== undefined) {
      const delay = retry.nextDelay(c, attempt, end);
      if (delay !== NO_RETRY) {
        options.held?.beforeRetry();
        this.#retries++;
        const elsewhere = options.failover?.next();
        if (elsewhere !== undefined && elsewhere !== this)
          return elsewhere.#admit(fn, options, attempt + 1);
        await this.#pause(delay, options.signal, undefined, false);
        return this.#admit(fn, options, attempt + 1);
      }
      if (retry.lastRefusal === 'budgetExhausted') this.#retryBudgetExhausted++;
    }
    throw err;
  }

  #race<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    a: GuardAttempt,
    timeoutMs: number,
    now: number,
  ): Promise<T> {
    const deadline = a.startDeadline(timeoutMs, now);
    this.#deadlines.add(deadline, now);
    return new Promise<T>((resolve, reject) => {
      deadline.rejectRace = reject;
      fn(a).then(resolve, reject);
    });
  }

  /** Sleeps for the limiter or a backoff; a caller abort gives the reservation back. */
  async #pause(
    ms: number,
    signal: AbortSignal | undefined,
    reserved: TokenEstimate | undefined,
    charge: Charge,
  ): Promise<void> {
    try {
      await sleep(this.#clock, ms, signal);
    } catch (err) {
      if (reserved !== undefined) this.#limiter?.refund(reserved, charge);
      throw new CancelledError(err);
    }
  }

  // AttemptHost
  now(): number {
    return this.#clock.now();
  }
  observeHeaders(headers: HeaderSource): void {
    this.#limiter?.observeHeaders(headers, this.#clock.now());
  }
  timedOut(): void {
    this.#timeouts++;
  }
  classify(err: unknown): Classification {
    return classifyOnce(this.#classifier, err, this.#clock.now());
  }
  disarm(deadline: AttemptDeadline): void {
    this.#deadlines.remove(deadline);
    deadline.rejectRace = undefined;
  }

  get target(): GuardTarget {
    return this.#target;
  }
  get limiter(): RateLimiter | undefined {
    return this.#limiter;
  }
  get bulkhead(): Bulkhead | undefined {
    return this.#bulkhead;
  }
  /** Deadlines watched (tests, /debug); whether their one timer is armed. */
  get pendingDeadlines(): number {
    return this.#deadlines.size;
  }
  get deadlineTimerArmed(): boolean {
    return this.#deadlines.armed;
  }

  counters(): GuardCounters {
    return {
      calls: this.#calls,
      retries: this.#retries,
      retryBudgetExhausted: this.#retryBudgetExhausted,
      timeouts: this.#timeouts,
    };
  }

  /**
   * Swaps the guard's own settings live; calls in flight pick up the new ones at their next
   * attempt. Carried over: the retry budget's balance and the breaker itself (reconfigure
   * that, the limiter and the bulkhead directly).
   */
  reconfigure(update: {
    readonly timeout?: TimeoutOptions | null;
    readonly retry?: RetryOptions | null;
  }): void {
    if (update.timeout !== undefined) this.#timeout = update.timeout ?? undefined;
    if (update.retry === null) this.#retry = undefined;
    else if (update.retry !== undefined && this.#retry !== undefined)
      this.#retry.reconfigure(update.retry);
    else if (update.retry !== undefined)
      this.#retry = new RetryPolicy(update.retry, this.#random, this.#clock.now());
  }
}
