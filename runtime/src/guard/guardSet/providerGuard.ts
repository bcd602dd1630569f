/**
 * What the runtime needs from the resilience guard, in its own terms. `GuardSet` is the one
 * implementation; the provider layer, the agent loop and the server compose calls through this
 * interface. Generic in the backend, which the guard only names: what a backend is and how it
 * is reached is the provider layer's.
 */
import type { StoreReport } from '../../../../contract/src/reporting/storeReport.ts';
import type { BudgetReport } from '../../../../contract/src/reporting/budgetReport.ts';
import type { BreakerView, RateLimiterView } from './guardViews.ts';
import type { BreakerReport } from '../../../../contract/src/reporting/breakerReport.ts';
import type { Classification } from '../classification.ts';
import type { SdkRequestOptions } from '../guardAttempt.ts';
import type { HeaderSource } from '../headers.ts';
import type { TokenEstimate, TokenUsage } from '../tokenBudget.ts';
import type { BudgetRequest } from '../budgetGate.ts';
import type { ToolGroup } from './toolGroups.ts';
import type { Guard } from '../guard.ts';

export type { ToolGroup };

export type { TokenEstimate, TokenUsage };

export type { BudgetRequest };

/** What the guard needs of a backend: its name, which names its breakers. */
export interface NamedBackend {
  readonly name: string;
}

/**
 * One attempt, as the router sees it. Methods, not function properties: an implementation
 * may keep them on its prototype, so pass them on bound (lint's unbound-method says where).
 */
export interface AttemptInfo<B extends NamedBackend> {
  readonly model: string;
  readonly backend: B;
  /** 1-based, across retries of the same model. */
  readonly attempt: number;
  /**
   * SDK request options for this attempt: `maxRetries: 0`, the time left before the guard's
   * deadline as `timeout` (the SDK's own timer enforces it) and the caller's `signal`.
   */
  readonly request: SdkRequestOptions;
  /**
   * A budget holds the call's worst case, and this attempt's usage settles it: a plain answer
   * is then read to its end when the caller leaves (providerAttempt.ts).
   */
  readonly budgeted: boolean;
  /** The answer's usage, so the token budget is settled with what was really used. */
  reportUsage(usage: TokenUsage): void;
  /** The answer's headers, for adaptive pacing (`anthropic-ratelimit-*`, `retry-after`). */
  observeHeaders(headers: HeaderSource): void;
  /**
   * Calls `fn` if the attempt's deadline passes while it runs: a stream stops at once
   * instead of writing to the caller after the guard has moved on.
   */
  whenExpired(fn: (err: Error) => void): void;
  /** A stream's first event arrived: `timeout` stops bounding the attempt. */
  firstEvent(): void;
  /** Part of the answer reached the caller: a failure from now on is final (no retry, no fallback). */
  commit(): void;
  /** The guard's classification of this attempt's error, made once and carried on it. */
  classify(err: unknown): Classification;
}

/**
 * The backend for the next attempt at a model, skipping open breakers and those in `tried`
 * (the backends this request has failed on); undefined when none is left.
 */
export type BackendPicker<B extends NamedBackend> = (tried?: ReadonlySet<string>) => B | undefined;

export interface ProviderGuard<B extends NamedBackend> {
  /**
   * `backend` × `model`'s guard, for a call that needs no budget (absent, or undefined: the
   * call goes through `callModel`).
   */
  plainGuard?(backend: string, model: string): Guard | undefined;
  /** Whether budgets apply to model calls (absent: treated as if they did). */
  readonly budgeted?: boolean;
  /** Whether the breaker of `backend` × `model` lets a call through now. */
  permits(backend: string, model: string): boolean;
  /**
   * Runs calls to one model: a backend is picked (skipping open breakers), the attempt runs
   * inside that backend×model breaker with the policy's timeout, and a failed attempt is
   * retried within the retry policy and budget — at the next backend the picker names (the
   * same request, failed over at once), or when none is left, at the same one after backoff. Every attempt is charged to the
   * rate limiter (`estimate` against the token budgets) and holds a bulkhead slot while it runs
   * (a streamed attempt runs until its last event). With `estimate` (or a `budget` that gives
   * the request's size and `max_tokens`), the call's worst case is reserved against the policy's budgets before any attempt and settled from the attempts'
   * usage after the last (BudgetExhaustedError or UnpricedModelError when it may not go); a
   * retry first holds room for what the attempts made may cost, or ends the call with the
   * budget's refusal.
   */
  callModel<T>(
    model: string,
    pickBackend: BackendPicker<B>,
    attempt: (info: AttemptInfo<B>) => Promise<T>,
    signal: AbortSignal,
    estimate?: TokenEstimate,
    budget?: BudgetRequest,
  ): Promise<T>;
  /**
   * `models` that have a price, cheapest worst case first, for budgets with `onExhausted:
   * Fallback`; absent (or empty) when no budget applies.
   */
  cheapestFirst?(
    models: readonly string[],
    estimate: TokenEstimate | undefined,
    budget?: BudgetRequest,
  ): string[];
  /**
   * What became of a call that Fallback budgets turned away (`budget`, the first that refused):
   * served by a cheaper model, or refused once none fitted (counted for `budget_rejected_total`).
   */
  budgetFellBack?(budget: string, served: boolean): void;
  /**
   * Runs one tool call inside a bulkhead — the HTTP tools' shared one, or its MCP server's
   * (`group`) — and the tool's own breaker and timeout.
   */
  callTool<T>(
    tool: string,
    timeoutMs: number,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
    group?: ToolGroup,
  ): Promise<T>;
  /** Debug snapshots. */
  breakers(): Record<string, BreakerView>;
  rateLimiter(): RateLimiterView;
  /** Compact per-breaker state for the pod annotation. */
  breakerSummary(): BreakerReport;
  /** The rate-limit store's state for the pod annotation; absent without a store. */
  storeReport?(): StoreReport | undefined;
  /** What the pod reports of the budgets (`breakwater.dev/budgets`); absent without budgets. */
  budgetReport?(): BudgetReport | undefined;
  /** Registers a listener for breaker (and store) state changes; returns a function that removes it. */
  onBreakerChange(listener: () => void): () => void;
}
