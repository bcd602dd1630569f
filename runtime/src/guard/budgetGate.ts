/**
 * What the guard asks of the agent's budgets (RateLimitPolicy `spec.budgets[]`): a model call's
 * worst case held before any attempt, each attempt's usage noted on the hold, room asked before
 * a retry, the cost settled once the call is over; a busy budget's call waiting for held room;
 * the order Fallback budgets try cheaper models in. The guard knows budgets only through this
 * interface, as it knows the rate-limit store only through rateLimitStore.ts; the implementation
 * is in runtime/src/budget/ (budgetGate.ts there), made by its face (budget/budgets.ts) where
 * the GuardSet is built.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { PlannedCall, ProviderAdditions } from '../../../contract/src/spend/callCost.ts';
import type { StoreBudgetClaim } from './rateLimitStore.ts';
import type { TokenUsage } from './tokenBudget.ts';

/** What budgets need of a call beyond its token estimate (RateLimitPolicy `spec.budgets[]`). */
export interface BudgetRequest {
  /** The caller's client key fingerprint, for `per: ClientKey` budgets; absent: none. */
  readonly clientKey?: string | undefined;
  /**
   * The most input tokens the request can be (its size in bytes: no token is shorter than
   * the byte that carries it); absent: the estimate's `inputTokens`.
   */
  readonly inputTokensAtMost?: number;
  /** The request's `max_tokens`; absent: the estimate's `outputTokens`. */
  readonly maxTokens?: number;
  /** The longest prompt-cache lifetime the request's `cache_control` asks for, if any. */
  readonly cacheWrite?: '5m' | '1h' | undefined;
  /** What the provider adds to the request and bills itself (callCost.ts); absent: nothing. */
  readonly additions?: ProviderAdditions | undefined;
  /** The request the call serves, named in the audit's budget records (budgetAudit.ts). */
  readonly requestId?: string | undefined;
  /** Streamed: its reservation's bound includes the longest stream (budgetLeases.ts). */
  readonly stream?: boolean | undefined;
}

/** A model call as its budgets price it. */
export interface BudgetedCall {
  readonly model: string;
  /** The caller's client key fingerprint (auditLog.ts `clientFingerprint`); absent: none. */
  readonly clientKey?: string | undefined;
  readonly planned: PlannedCall;
  /** Streamed: the call may take as long as the longest stream, beyond its attempts' timeouts. */
  readonly stream?: boolean | undefined;
}

/** What a call holds of its budgets while it runs: a ticket held here, or the store's claim. */
export interface BudgetHold {
  note(attempt: number, backend: string, usage: TokenUsage): void;
  /** Attempt `attempt` was given up on before any usage: the provider may have billed all of it. */
  unheard(attempt: number, backend: string): void;
  /**
   * Before a retry: room for what the attempts so far may cost, beside the next one's worst
   * case; the budget's refusal when it does not fit (held here), or asked of the store with the
   * retry's admission (`pending`).
   */
  beforeRetry(): void;
  /** Charges what the call cost and releases what it held; answers what it charged. */
  settle(): { readonly pico: bigint; readonly tokens: bigint };
}

/** A budgeted call's hold, as the guard hands it on. */
export interface HeldBudgets {
  /** What each attempt's usage is noted on. */
  readonly hold: BudgetHold;
  /** With a store: the claim the call's first admission decides with its limits. */
  readonly claim: StoreBudgetClaim | undefined;
  /**
   * What each retry asks room of, and what to settle once the call is over: `hold`, recorded
   * in the audit log when it is on.
   */
  readonly settles: BudgetHold;
}

export interface BudgetGate {
  /** Whether any budget applies; otherwise a call goes uncounted (`run` is not asked). */
  readonly enabled: boolean;
  /** A new policy: its budgets, prices and bounds. */
  configure(doc: PolicyDocument): void;
  /**
   * Runs `fn` with the call's worst case held (undefined: no budget applies), asking again
   * while a busy budget refuses it, for up to that budget's `waitForHeld`; a refusal
   * (BudgetExhaustedError, UnpricedModelError, UnboundedCallError) is thrown before `fn` and
   * counted once it is final. The caller settles `settles` once the call is over.
   */
  run<T>(
    call: BudgetedCall,
    requestId: string | undefined,
    fn: (held: HeldBudgets | undefined) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T>;
  /** `models` that have a price, cheapest worst case first (Fallback budgets). */
  cheapestFirst(models: readonly string[], planned: PlannedCall): string[];
  /** What became of a call Fallback budgets turned away: served by a cheaper model, or not. */
  fellBack(budget: string, served: boolean): void;
  /** Stops renewing the leases of calls still running (shutdown). */
  close(): void;
}
