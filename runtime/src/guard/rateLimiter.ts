/**
 * The rate limiter: a request token bucket, per-minute LLM token budgets and the adaptive
 * pacer, asked together so a call is charged everywhere or nowhere. With `scope: Cluster`
 * the numbers it receives are already this replica's share (the operator divides them);
 * the limiter itself is always local.
 *
 * The decision is synchronous (`admit`), so the guard's closed path awaits nothing here:
 * 0 → go now; > 0 → charged ahead (onLimit: Wait), sleep that long first; UNCHARGED → a
 * Shadow limiter let through a call it would have refused; otherwise RateLimitedError.
 */
import { AdaptivePacer } from './adaptivePacer.ts';
import type { PolicyMode } from '../../../contract/src/api/vocabulary.ts';
import { RateLimitedError, type RateLimitReason } from './errors.ts';
import type { HeaderSource } from './headers.ts';
import { MAX_DURATION_MS, OptionChecker } from './optionValidation.ts';
import { TokenBucket } from './tokenBucket.ts';
import { TokenBudget, type TokenEstimate, type TokenUsage } from './tokenBudget.ts';
import type { Clock } from '../../../contract/src/time/clock.ts';
import { sleep } from '../../../contract/src/time/sleep.ts';
import { RATE_LIMIT_POLICY_LIMITS as RATE } from '../../../contract/src/api/specLimits.ts';

export type OnLimit = 'Reject' | 'Wait';

export interface RateLimiterOptions {
  /** Request token bucket. @default undefined (no request limit) */
  readonly requests: { readonly perSecond: number; readonly burst: number } | undefined;
  /** Token budgets per minute. @default undefined (none) */
  readonly tokens:
    | { readonly inputPerMinute: number | undefined; readonly outputPerMinute: number | undefined }
    | undefined;
  /** @default both on */
  readonly adaptive: { readonly honorRetryAfter: boolean; readonly providerHeaders: boolean };
  /** @default 'Reject' */
  readonly onLimit: OnLimit;
  /** Longest wait with onLimit: Wait; longer waits are refused. @default 10000 */
  readonly maxWaitMs: number;
  /** @default 'Enforce' */
  readonly mode: PolicyMode;
}

export interface RateLimiterOptionsInput {
  readonly requests?: { readonly perSecond: number; readonly burst?: number };
  readonly tokens?: { readonly inputPerMinute?: number; readonly outputPerMinute?: number };
  readonly adaptive?: { readonly honorRetryAfter?: boolean; readonly providerHeaders?: boolean };
  readonly onLimit?: OnLimit;
  readonly maxWaitMs?: number;
  readonly mode?: PolicyMode;
}

export function resolveRateLimiterOptions(
  input: RateLimiterOptionsInput = {},
  owner = 'rate limiter',
): RateLimiterOptions {
  const check = new OptionChecker(owner);
  let requests: RateLimiterOptions['requests'];
  if (input.requests !== undefined) {
    const perSecond = check.positive('requests.perSecond', input.requests.perSecond, 1_000_000);
    const burst = check.integer(
      'requests.burst',
      input.requests.burst ?? Math.max(1, Math.ceil(perSecond)),
      1,
      10_000_000,
    );
    requests = Object.freeze({ perSecond, burst });
  }
  let tokens: RateLimiterOptions['tokens'];
  if (input.tokens !== undefined) {
    const { inputPerMinute, outputPerMinute } = input.tokens;
    if (inputPerMinute !== undefined) check.positive('tokens.inputPerMinute', inputPerMinute, 1e10);
    if (outputPerMinute !== undefined)
      check.positive('tokens.outputPerMinute', outputPerMinute, 1e10);
    if (inputPerMinute !== undefined || outputPerMinute !== undefined) {
      tokens = Object.freeze({ inputPerMinute, outputPerMinute });
    }
  }
  return Object.freeze({
    requests,
    tokens,
    adaptive: Object.freeze({
      honorRetryAfter: input.adaptive?.honorRetryAfter ?? RATE['adaptive.honorRetryAfter'].default,
      providerHeaders: input.adaptive?.providerHeaders ?? RATE['adaptive.providerHeaders'].default,
    }),
    onLimit: check.oneOf('onLimit', input.onLimit ?? RATE.onLimit.default, RATE.onLimit.enum),
    maxWaitMs: check.number('maxWaitMs', input.maxWaitMs ?? 10_000, 0, MAX_DURATION_MS),
    mode: check.oneOf('mode', input.mode ?? RATE.mode.default, RATE.mode.enum),
  });
}

/** `admit` let a Shadow-mode call through without charging it: do not refund or settle it. */
export const UNCHARGED = -1;

const NO_TOKENS: TokenEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0 });

export interface RateLimiterCounters {
  readonly admitted: number;
  /** Admitted after waiting (onLimit: Wait). */
  readonly waited: number;
  readonly rejected: Readonly<Record<RateLimitReason, number>>;
  readonly shadowRejected: number;
}

export interface RateLimiterConfig {
  readonly name: string;
  readonly clock: Clock;
  readonly options?: RateLimiterOptionsInput;
}

export class RateLimiter {
  readonly name: string;
  readonly #clock: Clock;
  #options: RateLimiterOptions;
  #requests: TokenBucket | undefined;
  readonly #budget: TokenBudget;
  readonly #pacer = new AdaptivePacer();
  #reason: RateLimitReason = 'requests';

  #admitted = 0;
  #waited = 0;
  #rejectedRequests = 0;
  #rejectedInput = 0;
  #rejectedOutput = 0;
  #rejectedProvider = 0;
  #shadowRejected = 0;

  constructor(config: RateLimiterConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#options = resolveRateLimiterOptions(config.options, `rate limiter "${config.name}"`);
    const now = config.clock.now();
    const r = this.#options.requests;
    this.#requests = r === undefined ? undefined : new TokenBucket(r.perSecond, r.burst, now);
    this.#budget = new TokenBudget(
      this.#options.tokens?.inputPerMinute,
      this.#options.tokens?.outputPerMinute,
      now,
    );
  }

  get options(): RateLimiterOptions {
    return this.#options;
  }

  /**
   * The whole admission decision at `now`: 0 (go, charged), > 0 (charged ahead: sleep this
   * long, then go), UNCHARGED (Shadow let it through), or throws RateLimitedError.
   */
  admit(now: number, estimate: TokenEstimate = NO_TOKENS): number {
    const wait = this.#waitFor(now, estimate);
    if (wait === 0) {
      this.#charge(now, estimate);
      this.#admitted++;
      return 0;
    }
    return this.#refused(wait, now, estimate);
  }

  /**
   * Admits and charges the call if nothing makes it wait; otherwise takes and counts
   * nothing and answers false (then ask `admit`, which decides what to do about the wait).
   */
  tryAdmitNow(now: number, estimate: TokenEstimate): boolean {
    if (!this.#budget.enabled && this.#pacer.quiet(now)) {
      // Only the request bucket has a say.
      const requests = this.#requests;
      if (requests !== undefined && requests.tryTake(1, now) !== 0) return false;
      this.#admitted++;
      return true;
    }
    if (this.#waitFor(now, estimate) !== 0) return false;
    this.#charge(now, estimate);
    this.#admitted++;
    return true;
  }

  #waitFor(now: number, estimate: TokenEstimate): number {
    let wait = 0;
    const requests = this.#requests;
    if (requests !== undefined) {
      wait = requests.waitFor(1, now);
      if (wait > 0) this.#reason = 'requests';
    }
    const budget = this.#budget;
    if (budget.enabled) {
      const w = budget.waitFor(estimate, now);
      if (w > wait) {
        wait = w;
        this.#reason = budget.limitedBy;
      }
    }
    const pacer = this.#pacer;
    if (pacer.quiet(now)) return wait;
    const w = pacer.waitFor(estimate.inputTokens, estimate.outputTokens, now);
    if (w > wait) {
      wait = w;
      this.#reason = 'provider';
    }
    return wait;
  }

  #charge(now: number, estimate: TokenEstimate): void {
    this.#requests?.take(1);
    const budget = this.#budget;
    if (budget.enabled) budget.reserve(estimate);
    const pacer = this.#pacer;
    if (!pacer.quiet(now)) pacer.charge(estimate.inputTokens, estimate.outputTokens, now);
  }

  #refused(wait: number, now: number, estimate: TokenEstimate): number {
    const o = this.#options;
    if (o.mode === 'Shadow') {
      this.#shadowRejected++;
      return UNCHARGED;
    }
    if (o.onLimit === 'Wait' && wait <= o.maxWaitMs) {
      this.#charge(now, estimate);
      this.#admitted++;
      this.#waited++;
      return wait;
    }
    switch (this.#reason) {
      case 'requests':
        this.#rejectedRequests++;
        break;
      case 'inputTokens':
        this.#rejectedInput++;
        break;
      case 'outputTokens':
        this.#rejectedOutput++;
        break;
      case 'provider':
        this.#rejectedProvider++;
        break;
    }
    throw new RateLimitedError(this.name, this.#reason, wait);
  }

  /** Standalone use: admit, and sleep when told to. */
  async acquire(estimate: TokenEstimate = NO_TOKENS, signal?: AbortSignal): Promise<boolean> {
    const wait = this.admit(this.#clock.now(), estimate);
    if (wait > 0) {
      try {
        await sleep(this.#clock, wait, signal);
      } catch (err) {
        this.refund(estimate);
        throw err;
      }
    }
    return wait !== UNCHARGED;
  }

  /** Gives a charge back: the call never went out (breaker refused it, caller gave up). */
  refund(estimate: TokenEstimate = NO_TOKENS): void {
    this.#requests?.refund(1);
    if (this.#budget.enabled) this.#budget.refund(estimate);
    this.#pacer.refund(estimate.inputTokens, estimate.outputTokens, this.#clock.now());
  }

  /** Trues a token reservation up to the call's real usage. */
  settle(estimate: TokenEstimate, usage: TokenUsage): void {
    if (this.#budget.enabled) this.#budget.settle(estimate, usage);
  }

  /** Feeds a provider response's rate-limit headers to the pacer (when enabled). */
  observeHeaders(headers: HeaderSource, now: number): void {
    if (this.#options.adaptive.providerHeaders) this.#pacer.observe(headers, now);
  }

  /** A provider 429 said retry-after: hold every call until then (when enabled). */
  observeRetryAfter(ms: number, now: number): void {
    if (this.#options.adaptive.honorRetryAfter) this.#pacer.pauseFor(ms, now);
  }

  counters(): RateLimiterCounters {
    return {
      admitted: this.#admitted,
      waited: this.#waited,
      rejected: {
        requests: this.#rejectedRequests,
        inputTokens: this.#rejectedInput,
        outputTokens: this.#rejectedOutput,
        provider: this.#rejectedProvider,
      },
      shadowRejected: this.#shadowRejected,
    };
  }

  /** For /debug/ratelimiter. */
  describe(): object {
    const now = this.#clock.now();
    return {
      name: this.name,
      options: this.#options,
      requestTokens: this.#requests?.available(now) ?? null,
      tokenBudget: this.#budget.available(now),
      provider: this.#pacer.describe(),
      pausedUntil: this.#pacer.pausedUntil > now ? this.#pacer.pausedUntil : null,
    };
  }

  /**
   * New numbers, live. Carried over: the tokens in each bucket (capped at the new burst or
   * budget, never topped up), reservations already made, and everything the provider told
   * the pacer. A limit switched off is dropped; one switched on starts full.
   */
  reconfigure(input: RateLimiterOptionsInput): void {
    const next = resolveRateLimiterOptions(input, `rate limiter "${this.name}"`);
    const now = this.#clock.now();
    const r = next.requests;
    if (r === undefined) this.#requests = undefined;
    else if (this.#requests === undefined)
      this.#requests = new TokenBucket(r.perSecond, r.burst, now);
    else this.#requests.reconfigure(r.perSecond, r.burst, now);
    this.#budget.reconfigure(next.tokens?.inputPerMinute, next.tokens?.outputPerMinute, now);
    this.#options = next;
  }
}
