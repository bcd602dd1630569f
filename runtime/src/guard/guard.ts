/**
 * The guard: every model and tool call goes through it.
 *
 * Order, outermost first:
 *
 *   fallback → retry → [breaker fail-fast] → rate limit → bulkhead → breaker → timeout → call
 *
 * DESIGN §1 names the per-call policies ratelimit → bulkhead → breaker → timeout; retry and
 * fallback are loops around them rather than layers inside the timeout, because:
 * - every attempt, retries included, is charged to the rate limiter and the token budget,
 *   takes a bulkhead slot only while it runs (not while it backs off), and is counted by
 *   the breaker: what the provider sees is what the guard counts;
 * - a retry therefore also stops as soon as the breaker opens, and the retry budget bounds
 *   how many retries an outage can add;
 * - fallback is outermost: each target (model or backend) has its own breaker, and the next
 *   target is tried when the current one's breaker is open or its failure class says so.
 * Before charging the limiter or queueing for a slot, the target's breaker is asked whether
 * it would refuse: a call bound for an open breaker goes straight to the fallback without
 * spending a rate token or waiting in the bulkhead queue. If it refuses at acquisition
 * anyway (half-open probes taken meanwhile), the rate token is refunded.
 *
 * The closed path (primary breaker Closed, a slot and a rate token free) is decided
 * synchronously in `execute` and runs the call in one small async frame with one
 * GuardAttempt; counters are plain fields (metrics.ts reads them at scrape time). The clock
 * is read once for the rate limiter, and after the call only when a slow-call rule, a time
 * window or `recordLatency` needs the duration.
 */
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';
import { REJECTED } from './circuitBreaker.ts';
import { classifyError, errorHeaders, isFailureClass } from './errorClassification.ts';
import { CancelledError } from './errors.ts';
import {
  Fallback,
  resolveFallbackOptions,
  type FallbackOptionsInput,
  type FallbackTrigger,
} from './fallback.ts';
import { GuardAttempt, type AttemptDeadline, type AttemptHost } from './guardAttempt.ts';
import type { HeaderSource } from './headers.ts';
import { BucketCounts, LLM_LATENCY_BUCKETS_SECONDS } from './histogramBuckets.ts';
import { UNCHARGED, type Charge, type RateLimiter } from './rateLimiter.ts';
import { systemRandom, type Random } from './random.ts';
import { NO_RETRY, resolveRetryOptions, RetryPolicy, type RetryOptionsInput } from './retry.ts';
import {
  DeadlineTimer,
  resolveTimeoutOptions,
  type TimeoutOptions,
  type TimeoutOptionsInput,
} from './timeout.ts';
import type { TokenEstimate } from './tokenBudget.ts';
import type { Clock } from '../../../contract/src/time/clock.ts';
import { sleep } from '../../../contract/src/time/sleep.ts';

/** One model or backend the guard may call, with its own breaker. */
export interface GuardTarget {
  readonly name: string;
  readonly breaker: CircuitBreaker;
}

export interface GuardConfig {
  readonly name: string;
  readonly clock: Clock;
  /** For retry jitter. @default Math.random */
  readonly random?: Random;
  /** Primary first, then the fallbacks in order. */
  readonly targets: readonly GuardTarget[];
  readonly limiter?: RateLimiter;
  readonly bulkhead?: Bulkhead;
  /** Absent: the guard sets no deadline of its own. */
  readonly timeout?: TimeoutOptionsInput;
  /** Absent: one attempt per target. */
  readonly retry?: RetryOptionsInput;
  readonly fallback?: FallbackOptionsInput;
  /**
   * Count attempt latency per target (exported as guard_attempt_duration_seconds). Off by
   * default: the runtime already times model and tool calls where it makes them, and this
   * costs a second clock read per call.
   */
  readonly recordLatency?: boolean;
}

export interface GuardCallOptions {
  /** Token estimate to reserve against the token budget (input size, max_tokens). */
  readonly estimate?: TokenEstimate;
  /** The caller's cancellation: stops waits, and reaches the call through `attempt.signal`. */
  readonly signal?: AbortSignal;
}

export interface GuardCounters {
  readonly calls: number;
  readonly retries: number;
  readonly retryBudgetExhausted: number;
  readonly fallbacks: number;
  readonly timeouts: number;
}

interface TargetSlot {
  readonly name: string;
  readonly breaker: CircuitBreaker;
  /** Attempt latency, milliseconds (counted only with `recordLatency`). */
  readonly latency: BucketCounts;
}

const NO_OPTIONS: GuardCallOptions = Object.freeze({});
const NO_TOKENS: TokenEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0 });
const LATENCY_BOUNDS_MS = Object.freeze(LLM_LATENCY_BUCKETS_SECONDS.map((s) => s * 1000));

export class Guard implements AttemptHost {
  readonly name: string;
  readonly #clock: Clock;
  readonly #random: Random;
  #targets: readonly TargetSlot[];
  readonly #limiter: RateLimiter | undefined;
  readonly #bulkhead: Bulkhead | undefined;
  #timeout: TimeoutOptions | undefined;
  readonly #recordLatency: boolean;
  readonly #deadlines: DeadlineTimer;
  #retry: RetryPolicy | undefined;
  readonly #fallback: Fallback;

  #calls = 0;
  #retries = 0;
  #retryBudgetExhausted = 0;
  #fallbacks = 0;
  #timeouts = 0;

  constructor(config: GuardConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#random = config.random ?? systemRandom;
    this.#limiter = config.limiter;
    this.#bulkhead = config.bulkhead;
    this.#recordLatency = config.recordLatency ?? false;
    this.#targets = this.#slots(config.targets);
    const owner = `guard "${config.name}"`;
    this.#timeout =
      config.timeout === undefined
        ? undefined
        : resolveTimeoutOptions(config.timeout, `${owner} timeout`);
    this.#deadlines = new DeadlineTimer(config.clock, this.#timeout?.resolutionMs);
    this.#retry =
      config.retry === undefined
        ? undefined
        : new RetryPolicy(
            resolveRetryOptions(config.retry, `${owner} retry`),
            this.#random,
            config.clock.now(),
          );
    this.#fallback = new Fallback(resolveFallbackOptions(config.fallback, `${owner} fallback`));
  }

  /**
   * Runs `fn` under the guard. `fn` is called once per attempt with a GuardAttempt saying
   * which target to call; pass `attempt.sdkOptions()` to the SDK. Resolves with the first
   * successful attempt's value; rejects with the guard's own errors (RateLimitedError,
   * BulkheadFullError, CircuitOpenError, TimeoutError, CancelledError) or the last
   * attempt's error.
   *
   * The common case (primary breaker closed, a bulkhead slot and a rate token free) is
   * decided synchronously here and costs one small async frame for the call itself; any
   * wait, refusal, retry or fallback continues in #admit.
   */
  execute<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions = NO_OPTIONS,
  ): Promise<T> {
    this.#calls++;
    this.#retry?.budget.deposit();
    const targets = this.#targets;
    const target = targets[0] as TargetSlot;
    const permit = target.breaker.closedPermit();
    if (permit >= 0) {
      const bulkhead = this.#bulkhead;
      if (bulkhead === undefined || bulkhead.tryEnter()) {
        const limiter = this.#limiter;
        if (limiter === undefined) {
          // Nothing before the call needs the time: read it only if the call's duration
          // counts. NaN (unread) makes any duration NaN, which is never slow.
          const now =
            this.#timed(target) || this.#timeout !== undefined ? this.#clock.now() : Number.NaN;
          return this.#attempt(fn, options, targets, 0, 1, permit, now, false);
        }
        const now = this.#clock.now();
        if (limiter.tryAdmitNow(now, options.estimate ?? NO_TOKENS)) {
          return this.#attempt(fn, options, targets, 0, 1, permit, now, 'local');
        }
        bulkhead?.release();
      }
    }
    return this.#admit(fn, options, targets, 0, 1, undefined);
  }

  /**
   * Admits attempt `attempt` at target `t` the long way: fail fast on an open breaker, wait
   * for the limiter and the bulkhead when told to, move on to the next target when the
   * breaker refuses.
   */
  async #admit<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions,
    targets: readonly TargetSlot[],
    t: number,
    attempt: number,
    lastError: unknown,
  ): Promise<T> {
    const clock = this.#clock;
    const limiter = this.#limiter;
    const bulkhead = this.#bulkhead;
    const estimate = options.estimate ?? NO_TOKENS;
    const signal = options.signal;
    for (;;) {
      const target = targets[t] as TargetSlot;
      const breaker = target.breaker;
      let now = clock.now();
      if (breaker.isRejecting(now)) {
        breaker.tryAcquire(now); // counts the refusal
        lastError = breaker.rejection(now);
      } else {
        let charged: Charge = false;
        if (limiter !== undefined) {
          let wait: number;
          if (limiter.sharing) {
            // The shared store answers within its budget, or the local share decides.
            const admission = await limiter.admitShared(now, estimate);
            wait = admission.waitMs;
            charged = admission.charge;
            now = clock.now();
          } else {
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
        if (permit !== REJECTED) {
          return this.#attempt(fn, options, targets, t, attempt, permit, now, charged);
        }
        bulkhead?.release();
        if (charged) limiter?.refund(estimate, charged);
        lastError = breaker.rejection(now);
      }
      if (!this.#moveOn('CircuitOpen', targets, t)) throw lastError;
      t++;
      attempt = 1;
    }
  }

  /** Runs one admitted attempt; on failure decides between retry, fallback and giving up. */
  async #attempt<T>(
    fn: (attempt: GuardAttempt) => Promise<T>,
    options: GuardCallOptions,
    targets: readonly TargetSlot[],
    t: number,
    attempt: number,
    permit: number,
    start: number,
    charged: Charge,
  ): Promise<T> {
    const target = targets[t] as TargetSlot;
    const timeout = this.#timeout;
    const a = new GuardAttempt(this, target.name, attempt, t, options.signal);
    let value: T;
    try {
      value =
        timeout === undefined ? await fn(a) : await this.#race(fn, a, timeout.timeoutMs, start);
    } catch (err) {
      return this.#failed(err, fn, options, targets, t, attempt, permit, start, charged, a);
    }
    const deadline = a.deadline;
    if (deadline !== undefined) this.#deadlines.remove(deadline);
    this.#bulkhead?.release();
    if (this.#timed(target)) {
      const end = this.#clock.now();
      // A stream is as slow as its first event: its length is the answer's, not the provider's.
      const duration = (a.firstEventAt ?? end) - start;
      target.breaker.onSuccess(permit, duration, end);
      if (this.#recordLatency) target.latency.observe(duration);
    } else {
      target.breaker.onSuccess(permit, 0, start);
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
    targets: readonly TargetSlot[],
    t: number,
    attempt: number,
    permit: number,
    start: number,
    charged: Charge,
    a: GuardAttempt,
  ): Promise<T> {
    const target = targets[t] as TargetSlot;
    const limiter = this.#limiter;
    const deadline = a.deadline;
    if (deadline !== undefined) this.#deadlines.remove(deadline);
    this.#bulkhead?.release();
    const end = this.#clock.now();
    const c = classifyError(err, end);
    const outcome = c.outcome;
    const duration = (a.firstEventAt ?? end) - start;
    if (isFailureClass(outcome)) target.breaker.onFailure(permit, outcome, duration, end);
    else target.breaker.onIgnored(permit);
    if (this.#recordLatency) target.latency.observe(duration);
    if (limiter !== undefined) {
      const headers = errorHeaders(err);
      if (headers !== undefined) limiter.observeHeaders(headers, end);
      if (outcome === 'RateLimited' && c.retryAfterMs !== undefined) {
        limiter.observeRetryAfter(c.retryAfterMs, end);
      }
      // A failed call's output was never produced; its input only counts when reported.
      if (charged) limiter.settle(options.estimate ?? NO_TOKENS, a.usage ?? NO_TOKENS, charged);
    }
    // Part of this answer reached the caller: nothing may be spliced onto it.
    if (a.committed) throw err;
    const retry = this.#retry;
    if (retry !== undefined) {
      const delay = retry.nextDelay(c, attempt, end);
      if (delay !== NO_RETRY) {
        this.#retries++;
        await this.#pause(delay, options.signal, undefined, false);
        return this.#admit(fn, options, targets, t, attempt + 1, err);
      }
      if (retry.lastRefusal === 'budgetExhausted') this.#retryBudgetExhausted++;
    }
    if (this.#moveOn(isFailureClass(outcome) ? outcome : undefined, targets, t)) {
      return this.#admit(fn, options, targets, t + 1, 1, err);
    }
    throw err;
  }

  /** Whether a call's duration is needed: for the latency histogram or the breaker's rules. */
  #timed(target: TargetSlot): boolean {
    return this.#recordLatency || target.breaker.needsDuration;
  }

  /** Whether to try the next target after `trigger` at target `t` (counts the fallback). */
  #moveOn(
    trigger: FallbackTrigger | undefined,
    targets: readonly TargetSlot[],
    t: number,
  ): boolean {
    if (t + 1 >= targets.length || !this.#fallback.shouldFallBack(trigger)) return false;
    this.#fallbacks++;
    return true;
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
  disarm(deadline: AttemptDeadline): void {
    this.#deadlines.remove(deadline);
    deadline.rejectRace = undefined;
  }

  get targets(): readonly GuardTarget[] {
    return this.#targets;
  }
  get limiter(): RateLimiter | undefined {
    return this.#limiter;
  }
  get bulkhead(): Bulkhead | undefined {
    return this.#bulkhead;
  }
  /** Deadlines being watched (tests, /debug). */
  get pendingDeadlines(): number {
    return this.#deadlines.size;
  }
  /** Whether the guard's one deadline timer is armed. */
  get deadlineTimerArmed(): boolean {
    return this.#deadlines.armed;
  }

  counters(): GuardCounters {
    return {
      calls: this.#calls,
      retries: this.#retries,
      retryBudgetExhausted: this.#retryBudgetExhausted,
      fallbacks: this.#fallbacks,
      timeouts: this.#timeouts,
    };
  }

  /** Attempt latency per target, in milliseconds; empty unless `recordLatency`. */
  latency(): ReadonlyMap<string, BucketCounts> {
    if (!this.#recordLatency) return new Map();
    return new Map(this.#targets.map((t) => [t.name, t.latency]));
  }

  /**
   * Swaps the guard's own settings live; calls in flight finish with the settings they
   * started with (targets) or pick up the new ones at their next attempt (timeout, retry).
   * Carried over: the retry budget's balance, latency counts of targets that stay, and the
   * breakers themselves (reconfigure those, the limiter and the bulkhead directly).
   */
  reconfigure(update: {
    readonly targets?: readonly GuardTarget[];
    readonly timeout?: TimeoutOptionsInput | null;
    readonly retry?: RetryOptionsInput | null;
    readonly fallback?: FallbackOptionsInput;
  }): void {
    const owner = `guard "${this.name}"`;
    const now = this.#clock.now();
    if (update.targets !== undefined) this.#targets = this.#slots(update.targets);
    if (update.timeout !== undefined) {
      this.#timeout =
        update.timeout === null
          ? undefined
          : resolveTimeoutOptions(update.timeout, `${owner} timeout`);
      if (this.#timeout) this.#deadlines.resolutionMs = this.#timeout.resolutionMs;
    }
    if (update.retry === null) this.#retry = undefined;
    else if (update.retry !== undefined) {
      const options = resolveRetryOptions(update.retry, `${owner} retry`);
      if (this.#retry === undefined) this.#retry = new RetryPolicy(options, this.#random, now);
      else this.#retry.reconfigure(options, now);
    }
    if (update.fallback !== undefined)
      this.#fallback.reconfigure(resolveFallbackOptions(update.fallback, `${owner} fallback`));
  }

  #slots(targets: readonly GuardTarget[]): TargetSlot[] {
    if (targets.length === 0)
      throw new Error(`guard "${this.name}": targets must name at least one target`);
    const previous = new Map(
      (this.#targets as readonly TargetSlot[] | undefined)?.map((t) => [t.name, t]),
    );
    return targets.map((t) => ({
      name: t.name,
      breaker: t.breaker,
      latency: previous.get(t.name)?.latency ?? new BucketCounts(LATENCY_BOUNDS_MS),
    }));
  }
}
