/**
 * This replica's share of a rate limit: the request token bucket, the per-minute token budgets
 * and the provider pacer, asked together so that a call is charged everywhere or nowhere. The
 * rate limiter decides with it alone, or with the store and it as the fallback (and the
 * mirror of what the store admitted).
 */
import { AdaptivePacer } from './adaptivePacer.ts';
import type { RateLimitReason } from './errors.ts';
import type { RateLimitSettings } from '../../../contract/src/policy/policyDocument.ts';
import { TokenBucket } from './tokenBucket.ts';
import { TokenBudget, type TokenEstimate, type TokenUsage } from './tokenBudget.ts';

/**
 * The policy document's rate-limit settings the limiter acts on, as they are: their defaults
 * and bounds are the schema's, checked by policyValidation.ts before a document gets here.
 * Absent `requests` or `tokens`: no such limit.
 */
export type RateLimiterOptions = Pick<
  RateLimitSettings,
  'requests' | 'tokens' | 'adaptive' | 'onLimit' | 'maxWaitMs' | 'mode'
>;

export class LocalShare {
  requests: TokenBucket | undefined;
  readonly budget: TokenBudget;
  readonly pacer = new AdaptivePacer();
  /** What made the last `waitFor` wait (or what the store said). */
  reason: RateLimitReason = 'requests';

  constructor(options: RateLimiterOptions, now: number) {
    const r = options.requests;
    this.requests =
      r === undefined ? undefined : new TokenBucket(r.replicaPerSecond, r.replicaBurst, now);
    this.budget = new TokenBudget(
      options.tokens?.replicaInputPerMinute,
      options.tokens?.replicaOutputPerMinute,
      now,
    );
  }

  /** Admits and charges the call if nothing makes it wait; otherwise takes nothing. */
  tryAdmitNow(now: number, estimate: TokenEstimate): boolean {
    if (!this.budget.enabled && this.pacer.quiet(now)) {
      // Only the request bucket has a say.
      const requests = this.requests;
      return requests === undefined || requests.tryTake(1, now) === 0;
    }
    if (this.waitFor(now, estimate) !== 0) return false;
    this.charge(now, estimate);
    return true;
  }

  /** How long the call would wait, 0 when it may go now; `reason` says what holds it. */
  waitFor(now: number, estimate: TokenEstimate): number {
    let wait = 0;
    const requests = this.requests;
    if (requests !== undefined) {
      wait = requests.waitFor(1, now);
      if (wait > 0) this.reason = 'requests';
    }
    const budget = this.budget;
    if (budget.enabled) {
      const w = budget.waitFor(estimate, now);
      if (w > wait) {
        wait = w;
        this.reason = budget.limitedBy;
      }
    }
    const pacer = this.pacer;
    if (pacer.quiet(now)) return wait;
    const w = pacer.waitFor(estimate.inputTokens, estimate.outputTokens, now);
    if (w > wait) {
      wait = w;
      this.reason = 'provider';
    }
    return wait;
  }

  charge(now: number, estimate: TokenEstimate): void {
    this.requests?.take(1);
    const budget = this.budget;
    if (budget.enabled) budget.reserve(estimate);
    const pacer = this.pacer;
    if (!pacer.quiet(now)) pacer.charge(estimate.inputTokens, estimate.outputTokens, now);
  }

  /** The provider pacer's own wait for the call (what the store is told). */
  pacerWaitFor(now: number, estimate: TokenEstimate): number {
    const pacer = this.pacer;
    return pacer.quiet(now) ? 0 : pacer.waitFor(estimate.inputTokens, estimate.outputTokens, now);
  }

  /**
   * Takes what the store admitted from this share too, as far as the share has it (never into
   * debt): when the store fails, a replica that has been using more than its share has none
   * left to burst with, and the replicas together stay within the numbers.
   */
  mirror(now: number, estimate: TokenEstimate): void {
    const pacer = this.pacer;
    if (!pacer.quiet(now)) pacer.charge(estimate.inputTokens, estimate.outputTokens, now);
    this.requests?.tryTake(1, now);
    const budget = this.budget;
    if (budget.enabled && budget.waitFor(estimate, now) === 0) budget.reserve(estimate);
  }

  refundPacer(estimate: TokenEstimate, now: number): void {
    this.pacer.refund(estimate.inputTokens, estimate.outputTokens, now);
  }

  /** Gives a local charge back (the pacer's is given back apart, whoever charged). */
  refund(estimate: TokenEstimate): void {
    this.requests?.refund(1);
    if (this.budget.enabled) this.budget.refund(estimate);
  }

  settle(estimate: TokenEstimate, usage: TokenUsage): void {
    if (this.budget.enabled) this.budget.settle(estimate, usage);
  }

  /**
   * New numbers, live. Carried over: the tokens in each bucket (capped at the new burst or
   * budget, never topped up), reservations already made, and everything the provider told
   * the pacer. A limit switched off is dropped; one switched on starts full.
   */
  reconfigure(next: RateLimiterOptions, now: number): void {
    const r = next.requests;
    if (r === undefined) this.requests = undefined;
    else if (this.requests === undefined)
      this.requests = new TokenBucket(r.replicaPerSecond, r.replicaBurst, now);
    else this.requests.reconfigure(r.replicaPerSecond, r.replicaBurst, now);
    this.budget.reconfigure(
      next.tokens?.replicaInputPerMinute,
      next.tokens?.replicaOutputPerMinute,
      now,
    );
  }

  /** For /debug/ratelimiter. */
  describe(now: number): object {
    return {
      requestTokens: this.requests?.available(now) ?? null,
      tokenBudget: this.budget.available(now),
      provider: this.pacer.describe(),
      pausedUntil: this.pacer.pausedUntil > now ? this.pacer.pausedUntil : null,
    };
  }
}
