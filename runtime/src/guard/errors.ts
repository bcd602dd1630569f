/**
 * The guard's own errors: values with a stable `code`, the data a caller needs to react
 * (`retryAfterMs`), and a type guard each. `httpMapping.ts` is the one place that turns them
 * into HTTP answers.
 */

import type { BreakerFields } from '../../../contract/src/policy/generated/documentSettingTypes.ts';

export type GuardErrorCode =
  | 'CIRCUIT_OPEN'
  | 'RATE_LIMITED'
  | 'BULKHEAD_FULL'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'BREAKER_LIMIT'
  | 'LOOP_DETECTED'
  | 'BUDGET_EXHAUSTED'
  | 'UNPRICED_MODEL'
  | 'UNBOUNDED_CALL';

export abstract class GuardError extends Error {
  abstract readonly code: GuardErrorCode;
}

/** Every concrete guard error; `code` tells them apart. */
export type AnyGuardError =
  | CircuitOpenError
  | RateLimitedError
  | BulkheadFullError
  | TimeoutError
  | CancelledError
  | BreakerLimitError
  | LoopDetectedError
  | BudgetExhaustedError
  | UnpricedModelError
  | UnboundedCallError;

export function isGuardError(err: unknown): err is AnyGuardError {
  return err instanceof GuardError;
}

/**
 * What the policy says a refused caller is told (CircuitBreakerPolicy `spec.openAnswer`):
 * carried on the error so every route that answers it answers the same.
 */
export type OpenAnswer = Pick<BreakerFields, 'openRetryAfter' | 'openMaxRetryAfterMs'>;

/** Why a breaker refused: open (or forced open), or half-open with every probe slot taken. */
export type CircuitRejection = 'Open' | 'ForcedOpen' | 'HalfOpen';

export class CircuitOpenError extends GuardError {
  readonly code = 'CIRCUIT_OPEN';
  readonly breaker: string;
  readonly state: CircuitRejection;
  /** When a call may be let through again (for Retry-After). */
  readonly retryAfterMs: number;
  /** Whether the HTTP answer asks the caller to wait and retry (httpMapping.ts). */
  readonly answer: OpenAnswer;

  constructor(breaker: string, state: CircuitRejection, retryAfterMs: number, answer: OpenAnswer) {
    super(`circuit breaker "${breaker}" is ${state}; retry in ${retryAfterMs} ms`);
    this.name = 'CircuitOpenError';
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
    this.answer = answer;
  }
}

export function isCircuitOpenError(err: unknown): err is CircuitOpenError {
  return err instanceof CircuitOpenError;
}

/** Which limit refused the call. */
export type RateLimitReason = 'requests' | 'inputTokens' | 'outputTokens' | 'provider';

/** A reason as `rate_limiter_rejected_total{reason}` and the runbook spell it. */
const REASON_LABEL: Readonly<Record<RateLimitReason, string>> = {
  requests: 'requests',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  provider: 'provider',
};

export class RateLimitedError extends GuardError {
  readonly code = 'RATE_LIMITED';
  readonly limiter: string;
  readonly reason: RateLimitReason;
  /** How long until the call would have been admitted. */
  readonly retryAfterMs: number;

  constructor(limiter: string, reason: RateLimitReason, retryAfterMs: number) {
    super(
      `rate limiter "${limiter}" refused the call (${REASON_LABEL[reason]}); retry in ${retryAfterMs} ms`,
    );
    this.name = 'RateLimitedError';
    this.limiter = limiter;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

export function isRateLimitedError(err: unknown): err is RateLimitedError {
  return err instanceof RateLimitedError;
}

export type BulkheadRejection = 'queueFull' | 'queueTimeout';

export class BulkheadFullError extends GuardError {
  readonly code = 'BULKHEAD_FULL';
  readonly bulkhead: string;
  readonly reason: BulkheadRejection;
  /** A hint for Retry-After: the bulkhead gives no promise, so this is the queue timeout. */
  readonly retryAfterMs: number;

  constructor(bulkhead: string, reason: BulkheadRejection, retryAfterMs: number) {
    super(
      reason === 'queueFull'
        ? `bulkhead "${bulkhead}" is full and so is its queue`
        : `bulkhead "${bulkhead}": no slot freed up within the queue timeout`,
    );
    this.name = 'BulkheadFullError';
    this.bulkhead = bulkhead;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

export function isBulkheadFullError(err: unknown): err is BulkheadFullError {
  return err instanceof BulkheadFullError;
}

export class TimeoutError extends GuardError {
  readonly code = 'TIMEOUT';
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`call timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

export function isTimeoutError(err: unknown): err is TimeoutError {
  return err instanceof TimeoutError;
}

/** The caller gave up (its AbortSignal fired) while the call waited or ran. */
export class CancelledError extends GuardError {
  readonly code = 'CANCELLED';

  constructor(reason?: unknown) {
    super('call cancelled by the caller', reason === undefined ? undefined : { cause: reason });
    this.name = 'CancelledError';
  }
}

export function isCancelledError(err: unknown): err is CancelledError {
  return err instanceof CancelledError;
}

/**
 * A call needed a breaker this replica may not create: it already keeps `limit` of them (callers
 * choose model names, and memory must not follow). No breaker is open; the call was refused
 * before any breaker existed for it.
 */
export class BreakerLimitError extends GuardError {
  readonly code = 'BREAKER_LIMIT';
  readonly breaker: string;
  readonly limit: number;
  /** A policy change that drops models, backends or tools retires their breakers. */
  readonly retryAfterMs: number;

  constructor(breaker: string, limit: number, retryAfterMs: number) {
    super(
      `no breaker for "${breaker}": this replica already keeps ${limit} breakers, the most it ` +
        'may; calls to further models or tools are refused until a policy change retires some',
    );
    this.name = 'BreakerLimitError';
    this.breaker = breaker;
    this.limit = limit;
    this.retryAfterMs = retryAfterMs;
  }
}

export function isBreakerLimitError(err: unknown): err is BreakerLimitError {
  return err instanceof BreakerLimitError;
}

/**
 * The loop breaker stopped an agent run: the same tool called with the same input again and
 * again, or a cycle of calls repeated (CircuitBreakerPolicy `loopDetection`). The run ends
 * here; running it again would only loop again, so callers are told not to retry.
 */
export class LoopDetectedError extends GuardError {
  readonly code = 'LOOP_DETECTED';
  /** The tool, or the cycle as `a → b`. */
  readonly tool: string;
  readonly count: number;

  constructor(tool: string, count: number) {
    super(
      `agent run stopped: a loop was detected — ${tool} called ${count} times ` +
        '(CircuitBreakerPolicy spec.loopDetection)',
    );
    this.name = 'LoopDetectedError';
    this.tool = tool;
    this.count = count;
  }
}

/**
 * A call whose worst case does not fit a budget (RateLimitPolicy `spec.budgets[]`, budgetLedger.ts)
 * that refuses or falls back when exhausted. The message names the budget, its period, what is
 * spent of what limit and when the period ends; Retry-After is the time until then.
 */
/**
 * Why a budget refused: `busy`, the call would fit once the calls in flight settle (what they
 * hold is what blocks it; retry soon); `exhausted`, spent + this call's worst case is over the
 * limit (only the period's reset makes room).
 */
export type BudgetRefusalReason = 'busy' | 'exhausted';

export class BudgetExhaustedError extends GuardError {
  readonly code = 'BUDGET_EXHAUSTED';
  readonly budget: string;
  readonly reason: BudgetRefusalReason;
  /** Busy: a moment; exhausted: until the budget's period ends. */
  readonly retryAfterMs: number;
  /** Every budget that refused says `onExhausted: Fallback`: a cheaper model may still fit. */
  readonly fallback: boolean;
  /**
   * Whether the same call may fit before the period ends: only when the budget is busy (calls
   * in flight hold what blocks it), or the reset is a minute away. Otherwise a retry is refused the same way, and
   * the reply tells SDKs not to (`x-should-retry: false`).
   */
  readonly retryHelps: boolean;

  constructor(
    budget: string,
    message: string,
    retryAfterMs: number,
    fallback: boolean,
    retryHelps: boolean,
    reason: BudgetRefusalReason = 'exhausted',
  ) {
    super(message);
    this.name = 'BudgetExhaustedError';
    this.budget = budget;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
    this.fallback = fallback;
    this.retryHelps = retryHelps;
  }

  /** This refusal, saying whether a cheaper model may still fit as `fallback` does. */
  withFallback(fallback: boolean): BudgetExhaustedError {
    return fallback === this.fallback
      ? this
      : new BudgetExhaustedError(
          this.budget,
          this.message,
          this.retryAfterMs,
          fallback,
          this.retryHelps,
          this.reason,
        );
  }
}

export function isBudgetExhaustedError(err: unknown): err is BudgetExhaustedError {
  return err instanceof BudgetExhaustedError;
}

/**
 * A call to a model with no price under a dollar budget: never counted as free. The message
 * (contract/src/spend/callCost.ts) names the model and AgentDeployment `spec.pricing[].model`.
 */
export class UnpricedModelError extends GuardError {
  readonly code = 'UNPRICED_MODEL';
  readonly model: string;

  constructor(model: string, message: string) {
    super(message);
    this.name = 'UnpricedModelError';
    this.model = model;
  }
}

export function isUnpricedModelError(err: unknown): err is UnpricedModelError {
  return err instanceof UnpricedModelError;
}

/**
 * A call whose cost nothing bounds (a server tool without `max_uses`, a PDF, a tool the
 * provider bills by its own measure) under a dollar budget that refuses. The message
 * (contract/src/spend/callCost.ts) says what to set or send instead.
 */
export class UnboundedCallError extends GuardError {
  readonly code = 'UNBOUNDED_CALL';
  readonly model: string;

  constructor(model: string, message: string) {
    super(message);
    this.name = 'UnboundedCallError';
    this.model = model;
  }
}

export function isUnboundedCallError(err: unknown): err is UnboundedCallError {
  return err instanceof UnboundedCallError;
}
