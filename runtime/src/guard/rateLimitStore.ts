/**
 * What the rate limiter asks of a store shared by every replica (RateLimitPolicy spec.store):
 * exact counters for the whole agent, and the provider's pauses. The guard knows only this
 * interface; the Redis implementation lives in runtime/src/rateLimitStore/.
 *
 * A store is never a new way to fail: `admit` answers within the store's wait budget or
 * with `undefined`, and then the limiter decides on the replica's own share at once.
 */
import type { RateLimitReason } from './errors.ts';
import type { TokenEstimate } from './tokenBudget.ts';

export interface StoreAdmitRequest {
  readonly estimate: TokenEstimate;
  /** What this replica's own pacer (provider headers it saw) asks the call to wait, in ms. */
  readonly localWaitMs: number;
  /** The longest wait the call may be charged ahead for (onLimit: Wait); 0: only now. */
  readonly maxWaitMs: number;
}

export interface StoreAdmission {
  /** 0: go now; > 0: go after this long (charged ahead), or the wait that refused it. */
  readonly waitMs: number;
  readonly reason: RateLimitReason;
  /** Whether the store charged the call (it goes, after `waitMs`). */
  readonly charged: boolean;
}

/** Amounts to give back to the store's counters (negative: charge more). */
export interface StoreSettlement {
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface RateLimitStore {
  /** Whether to ask at all: false while the store is down or slow (the local share decides). */
  readonly available: boolean;
  /** The store's decision, or undefined when it did not answer within its budget. */
  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined>;
  /** Gives back or charges more, in the background; lost when the store is down. */
  settle(amounts: StoreSettlement): void;
  /** The provider wants a pause of `ms` from now: every replica holds its calls. */
  pause(ms: number): void;
}
