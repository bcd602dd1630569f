/**
 * The rate limiter: this replica's share (localShare.ts: a request token bucket, per-minute
 * LLM token budgets and the adaptive pacer, asked together so a call is charged everywhere or
 * nowhere), and the store's admission beside it. With `scope: Cluster`
 * the numbers it receives are already this replica's share (the operator divides them).
 * With a store (`useStore`), the store's exact counters for the whole agent decide
 * instead (`admitWithStore`), and this replica's share is the fallback whenever the store is
 * down or slower than its budget.
 *
 * The decision is synchronous (`admit`), so the guard's closed path awaits nothing here:
 * 0 → go now; > 0 → charged ahead (onLimit: Wait), sleep that long first; UNCHARGED → a
 * Shadow limiter let through a call it would have refused; otherwise RateLimitedError.
 */
import { RateLimitedError, type RateLimitReason } from './errors.ts';
import type { HeaderSource } from './headers.ts';
import { spentLimitPauseMs } from './providerPause.ts';
import type {
  RateLimitStore,
  StoreAdmitRequest,
  StoreBudgetClaim,
  StoreBudgetRenewal,
  StoreBudgetSettlement,
  StoreSettlement,
} from './rateLimitStore.ts';
import { LocalShare, type RateLimiterOptions } from './localShare.ts';
import type { TokenEstimate, TokenUsage } from './tokenBudget.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { sleep } from '../../../platform/src/time/sleep.ts';

export type { RateLimiterOptions };

/** `admit` let a Shadow-mode call through without charging it: do not refund or settle it. */
export const UNCHARGED = -1;

/** Where an admitted call was charged, so its refund or settlement goes to the same place. */
export type Charge = false | 'local' | 'store';

export interface Admission {
  /** 0: go now; > 0: sleep this long, then go; UNCHARGED: Shadow let it through. */
  readonly waitMs: number;
  readonly charge: Charge;
}

const NO_TOKENS: TokenEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0 });

export interface RateLimiterCounters {
  readonly admitted: number;
  /** Admitted after waiting (onLimit: Wait). */
  readonly waited: number;
  readonly rejected: Readonly<Record<RateLimitReason, number>>;
  readonly shadowRejected: number;
  /** Decisions the store made. */
  readonly sharedDecisions: number;
  /** Decisions made on this replica's share because the store could not answer. */
  readonly fallbackDecisions: number;
}

export interface RateLimiterConfig {
  readonly name: string;
  readonly clock: Clock;
  readonly options: RateLimiterOptions;
}

export class RateLimiter {
  readonly name: string;
  readonly #clock: Clock;
  #options: RateLimiterOptions;
  /** This replica's share: the request bucket, the token budgets and the provider pacer. */
  readonly #local: LocalShare;

  #admitted = 0;
  #waited = 0;
  #rejectedRequests = 0;
  #rejectedInput = 0;
  #rejectedOutput = 0;
  #rejectedProvider = 0;
  #shadowRejected = 0;
  #store: RateLimitStore | undefined;
  #sharedDecisions = 0;
  #fallbackDecisions = 0;

  constructor(config: RateLimiterConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#options = config.options;
    this.#local = new LocalShare(config.options, config.clock.now());
  }

  get options(): RateLimiterOptions {
    return this.#options;
  }

  /**
   * The whole admission decision at `now`: 0 (go, charged), > 0 (charged ahead: sleep this
   * long, then go), UNCHARGED (Shadow let it through), or throws RateLimitedError.
   */
  admit(now: number, estimate: TokenEstimate = NO_TOKENS): number {
    const wait = this.#local.waitFor(now, estimate);
    if (wait === 0) {
      this.#local.charge(now, estimate);
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
    const store = this.#store;
    // The store decides (asynchronously) while it answers; otherwise this is a
    // decision on the local share in its place.
    if (store !== undefined) {
      if (store.available) return false;
      if (!this.#admitNow(now, estimate)) return false;
      this.#fallbackDecisions++;
      store.letGoOnShare?.({ estimate, share: this.#shareCapacity() });
      return true;
    }
    return this.#admitNow(now, estimate);
  }

  #admitNow(now: number, estimate: TokenEstimate): boolean {
    if (!this.#local.tryAdmitNow(now, estimate)) return false;
    this.#admitted++;
    return true;
  }

  #refused(wait: number, now: number, estimate: TokenEstimate): number {
    const o = this.#options;
    if (o.mode === 'Shadow') {
      this.#shadowRejected++;
      return UNCHARGED;
    }
    if (o.onLimit === 'Wait' && wait <= o.maxWaitMs) {
      this.#local.charge(now, estimate);
      this.#admitted++;
      this.#waited++;
      return wait;
    }
    this.#reject(wait);
  }

  /** Counts the refusal under the current reason and throws it. */
  #reject(wait: number): never {
    const reason = this.#local.reason;
    switch (reason) {
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
    throw new RateLimitedError(this.name, reason, wait);
  }

  /** Whether a store is attached (then ask `admitWithStore`, which may await it). */
  get sharing(): boolean {
    return this.#store !== undefined;
  }

  /** Whether a store is attached but cannot decide now (the local share does). */
  get storeFallback(): boolean {
    return this.#store !== undefined && !this.#store.available;
  }

  /** Whether the attached store's server may evict its keys (its maxmemory-policy). */
  get storeEvicting(): boolean {
    return this.#store?.evicting !== undefined;
  }

  /** Keys the attached store's servers evicted since it was attached (0 without a store). */
  get storeEvictedKeys(): number {
    return this.#store?.evictedKeys ?? 0;
  }

  /** Attaches the store shared by every replica, or detaches it (undefined). */
  useStore(store: RateLimitStore | undefined): void {
    this.#store = store;
  }

  /**
   * The admission decision with the store: the store's exact counters decide when it
   * answers within its budget; otherwise this replica's share decides, at once. This
   * replica's own provider pacing rides along in the same round trip, and so do the call's
   * budgets while `claim` is undecided (a budget's refusal throws BudgetExhaustedError).
   */
  async admitWithStore(
    now: number,
    estimate: TokenEstimate = NO_TOKENS,
    claim?: StoreBudgetClaim,
  ): Promise<Admission> {
    const store = this.#store;
    const budget = claim?.pending;
    const asks =
      budget === undefined ? store?.available : (store?.availableForBudgets ?? store?.available);
    const request: StoreAdmitRequest | undefined =
      store !== undefined && asks === true
        ? {
            estimate,
            localWaitMs: this.#local.pacerWaitFor(now, estimate),
            maxWaitMs:
              this.#options.mode === 'Enforce' && this.#options.onLimit === 'Wait'
                ? this.#options.maxWaitMs
                : 0,
            ...(budget === undefined
              ? {}
              : { budget, limitsShadow: this.#options.mode === 'Shadow' }),
          }
        : undefined;
    const answer = request === undefined ? undefined : await store?.admit(request);
    if (answer === undefined) {
      this.#fallbackDecisions++;
      // Asked, but no answer in time: the store's late answer, when it comes, is put right by
      // whether the share let the call go (lateAdmissionUndo). Refused here, it stays false.
      if (request !== undefined) request.wentOnShare = false;
      // The share decides the budgets too, before the limits, as without a store.
      if (budget !== undefined) claim?.holdLocally();
      const waitMs = this.admit(this.#clock.now(), estimate);
      const went = waitMs !== UNCHARGED;
      if (request !== undefined) request.wentOnShare = went;
      // The store counts it when it answers again, unless a late answer puts it right (R3).
      if (went)
        store?.letGoOnShare?.({
          estimate,
          share: this.#shareCapacity(),
          ...(request === undefined ? {} : { asked: request }),
        });
      return { waitMs, charge: waitMs === UNCHARGED ? false : 'local' };
    }
    this.#sharedDecisions++;
    const verdict = answer.budget;
    if (claim !== undefined && verdict !== undefined) {
      if (verdict.refusedBy !== undefined) claim.refused(verdict);
      if (verdict.held) claim.held(verdict);
    }
    if (answer.charged) {
      this.#local.mirror(now, estimate);
      this.#admitted++;
      if (answer.waitMs > 0) this.#waited++;
      return { waitMs: answer.waitMs, charge: 'store' };
    }
    if (this.#options.mode === 'Shadow') {
      this.#shadowRejected++;
      return { waitMs: UNCHARGED, charge: false };
    }
    this.#local.reason = answer.reason === 'budget' ? 'requests' : answer.reason;
    return this.#reject(answer.waitMs);
  }

  /** What this replica's share holds at most per limit (0 where it has none). */
  #shareCapacity(): StoreSettlement {
    const o = this.#options;
    return {
      requests: o.requests?.replicaBurst ?? 0,
      inputTokens: o.tokens?.replicaInputPerMinute ?? 0,
      outputTokens: o.tokens?.replicaOutputPerMinute ?? 0,
    };
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
  refund(estimate: TokenEstimate = NO_TOKENS, charge: Charge = 'local'): void {
    this.#local.refundPacer(estimate, this.#clock.now());
    if (charge === 'store') {
      this.#store?.settle({
        requests: 1,
        inputTokens: estimate.inputTokens,
        outputTokens: estimate.outputTokens,
      });
      return;
    }
    this.#local.refund(estimate);
  }

  /** The leases of calls still running go on (BudgetLedger.renew); lost without a store. */
  renewBudgets(renewals: readonly StoreBudgetRenewal[]): void {
    if (renewals.length > 0) this.#store?.renewBudgets?.(renewals);
  }

  /** A budget reservation the store holds is settled (budgetClaim.ts); lost without a store. */
  settleBudget(settlement: StoreBudgetSettlement): void {
    this.#store?.settleBudget(settlement);
  }

  /** Trues a token reservation up to the call's real usage. */
  settle(estimate: TokenEstimate, usage: TokenUsage, charge: Charge = 'local'): void {
    if (charge === 'store') {
      const inputTokens = estimate.inputTokens - usage.inputTokens;
      const outputTokens = estimate.outputTokens - usage.outputTokens;
      if (inputTokens !== 0 || outputTokens !== 0)
        this.#store?.settle({ requests: 0, inputTokens, outputTokens });
      return;
    }
    this.#local.settle(estimate, usage);
  }

  /** Feeds a provider response's rate-limit headers to the pacer (when enabled). */
  observeHeaders(headers: HeaderSource, now: number): void {
    if (!this.#options.adaptive.providerHeaders) return;
    this.#local.pacer.observe(headers, now);
    const store = this.#store;
    if (store === undefined) return;
    const pause = spentLimitPauseMs(headers, now);
    if (pause > 0) store.pause(pause);
  }

  /** A provider 429 said retry-after: hold every call until then (when enabled). */
  observeRetryAfter(ms: number, now: number): void {
    if (!this.#options.adaptive.honorRetryAfter) return;
    this.#local.pacer.pauseFor(ms, now);
    this.#store?.pause(ms);
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
      sharedDecisions: this.#sharedDecisions,
      fallbackDecisions: this.#fallbackDecisions,
    };
  }

  /** For /debug/ratelimiter. */
  describe(): object {
    return { name: this.name, options: this.#options, ...this.#local.describe(this.#clock.now()) };
  }

  /**
   * New numbers, live. Carried over: the tokens in each bucket (capped at the new burst or
   * budget, never topped up), reservations already made, and everything the provider told
   * the pacer. A limit switched off is dropped; one switched on starts full.
   */
  reconfigure(next: RateLimiterOptions): void {
    this.#local.reconfigure(next, this.#clock.now());
    this.#options = next;
  }
}
