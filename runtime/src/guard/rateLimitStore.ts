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
  /** The budgets the call must also fit, decided in the same round trip; absent: none. */
  readonly budget?: StoreBudgetRequest;
  /** The limiter is in Shadow: a limit's refusal charges nothing, but budgets still decide. */
  readonly limitsShadow?: boolean;
  /**
   * Set by the limiter when `admit` answered undefined and the call was then decided on the
   * replica's share: true when the share charged it (it goes), false when it was refused there
   * (or Shadow let it through uncharged). A late answer is put right by it (lateAdmissionUndo):
   * the store ends up counting the call when it went, and not when it did not. Unset (a caller
   * other than the limiter): the call is taken as not gone, and what the store charged is given
   * back.
   */
  wentOnShare?: boolean;
}

/**
 * A call the replica's share let go after the store did not answer, or was not asked
 * (`RateLimitStore.letGoOnShare`).
 */
export interface StoreShareCall {
  readonly estimate: TokenEstimate;
  /**
   * What the replica's share holds at most per limit (its burst, its token budgets per minute;
   * 0 where it has no such limit): the store charges no more than this of such calls at once.
   */
  readonly share: StoreSettlement;
  /** The admission asked for it, when one was: a late answer to it puts the call right instead. */
  readonly asked?: StoreAdmitRequest;
}

/** One budget account in the store: a budget in one period, for the agent or one client key. */
export interface StoreBudgetAccount {
  /**
   * `<agent>:<budget>:<periodStartMs>[:<key fingerprint>]`, or the team's `<budget>:<periodStartMs>`
   * (`per: Policy`); the store adds its prefix.
   */
  readonly key: string;
  /**
   * The prefix the account lives under when it is not the limiter's: a team's account (`per:
   * Policy`) is the policy's, `breakwater:{<namespace>/<policy>}`, whichever agent charges it.
   */
  readonly keyPrefix?: string;
  /** The whole agent's limits (never a replica's share); undefined: not limited. */
  readonly limitPico: bigint | undefined;
  readonly limitTokens: bigint | undefined;
  /** Epoch ms the account is kept until: its period's end and seven days. */
  readonly keepUntilMs: number;
  /** Going over refuses the call (Refuse, Fallback); false: only counted (Shadow). */
  readonly refuses: boolean;
}

/** A call's worst case, to hold in every account under a lease. */
export interface StoreBudgetRequest {
  readonly accounts: readonly StoreBudgetAccount[];
  /** Unique across replicas: settles and lapses find the reservation by it. */
  readonly reservationId: string;
  readonly leaseMs: number;
  readonly worstPico: bigint;
  readonly worstTokens: bigint;
}

/** What an account holds as the store answered (after this call's reservation, if held). */
export interface StoreAccountState {
  /** Fits; over but only counted (Shadow); over and refusing. */
  readonly state: 'fits' | 'shadowOver' | 'refuses';
  readonly spentPico: bigint;
  readonly reservedPico: bigint;
  readonly spentTokens: bigint;
  readonly reservedTokens: bigint;
}

export interface StoreBudgetVerdict {
  /** The worst case is held in every account (the call may go as far as budgets go). */
  readonly held: boolean;
  /** The first account (index into the request's) that refused; undefined when none did. */
  readonly refusedBy: number | undefined;
  readonly accounts: readonly StoreAccountState[];
}

export interface StoreAdmission {
  /** 0: go now; > 0: go after this long (charged ahead), or the wait that refused it. */
  readonly waitMs: number;
  /** Why the limits refused or made the call wait ('budget' when a budget refused it). */
  readonly reason: RateLimitReason | 'budget';
  /** Whether the store charged the call's limits (it goes, after `waitMs`). */
  readonly charged: boolean;
  /** Present when the request carried budgets. */
  readonly budget?: StoreBudgetVerdict;
}

/** A reservation settled: its real cost charged, its worst case released. */
export interface StoreBudgetSettlement {
  readonly accounts: readonly StoreBudgetAccount[];
  readonly reservationId: string;
  readonly worstPico: bigint;
  readonly worstTokens: bigint;
  readonly costPico: bigint;
  readonly costTokens: bigint;
  /**
   * Gives back what an admission answered too late held (lateAdmissionUndo): applied once, apart
   * from the call's own settlement under the same reservation.
   */
  readonly lateRelease?: true;
}

/** A call still running: its reservation's lease goes on for `leaseMs` from the store's now. */
export interface StoreBudgetRenewal {
  readonly accounts: readonly StoreBudgetAccount[];
  readonly reservationId: string;
  readonly leaseMs: number;
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
  /**
   * Whether a call with budgets asks: also while the store is slow but answering (its answer
   * holds the worst case for every replica); absent: as `available`.
   */
  readonly availableForBudgets?: boolean;
  /** The server's maxmemory-policy while it may evict the store's keys (absent: it does not). */
  readonly evicting?: string | undefined;
  /** Keys the store's servers evicted since first read, whatever the policy now (absent: 0). */
  readonly evictedKeys?: number;
  /** The store's decision, or undefined when it did not answer within its budget. */
  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined>;
  /** Gives back or charges more, in the background; lost when the store is down. */
  settle(amounts: StoreSettlement): void;
  /**
   * A call the share let go that the store would not count otherwise (it was not asked, or its
   * admission never ran): charged to the store's limits once it answers again, as the budget
   * settlements it could not take are sent again (R3 in docs/guarantees.md). Absent: never.
   */
  letGoOnShare?(call: StoreShareCall): void;
  /**
   * Charges a budget reservation's real cost and releases its worst case, in the background;
   * kept while the store cannot take it and sent again once it answers, applied once however
   * often it is sent (the store remembers each settlement until its accounts expire).
   */
  settleBudget(settlement: StoreBudgetSettlement): void;
  /** The provider wants a pause of `ms` from now: every replica holds its calls. */
  pause(ms: number): void;
  /**
   * Renews the leases of calls still running, in one background script call; lost when the
   * store is down (a lease then ends at its cap, and the call's settlement still charges).
   */
  renewBudgets?(renewals: readonly StoreBudgetRenewal[]): void;
}

/**
 * A call's budgets as the rate limiter carries them to its first admission (budgetClaim.ts):
 * the store decides them with the limits in one call, or, when it cannot answer, the
 * replica's share does.
 */
export interface StoreBudgetClaim {
  /** What to ask the store while undecided; undefined once decided (a retry asks nothing). */
  readonly pending: StoreBudgetRequest | undefined;
  /** The store holds the worst case. */
  held(verdict: StoreBudgetVerdict): void;
  /** A budget refused it in the store: throws the budget's BudgetExhaustedError. */
  refused(verdict: StoreBudgetVerdict): never;
  /** The store did not answer: the replica's share decides (throws when the call does not fit). */
  holdLocally(): void;
}
