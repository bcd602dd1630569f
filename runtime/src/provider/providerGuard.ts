/**
 * What the runtime needs from the resilience guard, in its own terms. `guardBinding.ts` is
 * the one file that implements it with `runtime/src/guard/`; everything else in the runtime
 * composes calls through this interface.
 */
import type { BreakerReport } from '../reporting/breakerAnnotation.ts';
import type { Backend } from './backendPool.ts';
import type { Usage } from './sseUsage.ts';

export interface TokenEstimate {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** One inbound request's place in the rate limiter and bulkhead. */
export interface Admission {
  /** Charges the tokens actually used against the budgets (the estimate is corrected). */
  settle(usage: Usage): void;
  /** Frees the bulkhead slot; idempotent. */
  release(): void;
}

export interface AttemptInfo {
  readonly model: string;
  readonly backend: Backend;
  /** 1-based, across retries of the same model. */
  readonly attempt: number;
  readonly signal: AbortSignal;
}

export interface ProviderGuard {
  /** Rate limit, then bulkhead, for one inbound request. Rejects with a GuardError to refuse. */
  admit(estimate: TokenEstimate, signal: AbortSignal): Promise<Admission>;
  /** Whether the breaker of `backend` × `model` lets a call through now. */
  permits(backend: string, model: string): boolean;
  /**
   * Runs calls to one model: for each attempt a backend is picked (skipping open breakers),
   * the attempt runs inside that backend×model breaker with the policy's timeout, and failed
   * attempts are retried within the retry policy and budget.
   */
  callModel<T>(
    model: string,
    pickBackend: () => Backend | undefined,
    attempt: (info: AttemptInfo) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T>;
  /** Runs one tool call inside the tools bulkhead and the tool's own breaker and timeout. */
  callTool<T>(
    tool: string,
    timeoutMs: number,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T>;
  /** Debug snapshots. */
  breakers(): unknown;
  rateLimiter(): unknown;
  /** Compact per-breaker state for the pod annotation. */
  breakerSummary(): BreakerReport;
  /** Registers a listener for breaker state changes; returns a function that removes it. */
  onBreakerChange(listener: () => void): () => void;
}
