/**
 * What went wrong with a call, in the terms the guard acts on: which failure class (for the
 * breaker's `failOn`), whether a retry can help, and how long the provider asked us to wait.
 *
 * The guard knows no provider: what a provider's errors mean is its `ErrorClassifier`'s to say
 * (runtime/src/provider/anthropic/errorClassification.ts for the Anthropic API). What is the
 * same for every provider lives here: the guard's own refusals, cancellation, and the
 * connection and timeout errors of Node and undici.
 */
import type { FailureClass } from '../../../contract/src/api/vocabulary.ts';
import {
  BreakerLimitError,
  BudgetExhaustedError,
  BulkheadFullError,
  CancelledError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
  UnboundedCallError,
  UnpricedModelError,
} from './errors.ts';
import type { HeaderSource } from './headers.ts';

/** Every way a call can end. Only FailureClass outcomes say anything about the provider. */
export type OutcomeClass =
  | 'Success'
  | FailureClass
  /** Out of credit or over a spend limit: not retryable, not a provider failure. */
  | 'SpendLimited'
  /** Any other 4xx: the request is wrong; it never counts against the provider. */
  | 'ClientError'
  /** The caller gave up. */
  | 'Cancelled'
  /** The guard itself refused (open breaker, local rate limit, full bulkhead). */
  | 'Rejected'
  /** Not recognised (a bug in an adapter, say): neither retried nor counted. */
  | 'Unknown';

export interface Classification {
  readonly outcome: OutcomeClass;
  readonly retryable: boolean;
  /** HTTP status when one was seen. */
  readonly status?: number | undefined;
  /** From `retry-after-ms` / `retry-after`, or the guard error's own hint. */
  readonly retryAfterMs?: number | undefined;
  /** The provider's own error, when its answer had one (`{type, message}` in the Anthropic shape). */
  readonly providerError?: ProviderError | undefined;
}

/** What the provider said went wrong, as its error body put it. */
export interface ProviderError {
  readonly type: string;
  readonly message?: string | undefined;
}

/** Tells the guard what a call's error means; one per provider (and one for HTTP tools). */
export interface ErrorClassifier {
  /** Classifies anything a guarded call threw. */
  classify(err: unknown, now: number): Classification;
  /** The headers an error carries, for adaptive pacing; undefined when it has none. */
  headersOf(err: unknown): HeaderSource | undefined;
}

/**
 * Where a failed attempt's classification rides on its error: made once where the attempt
 * failed, then read by the breaker, the retry, the router's failover, the HTTP answer and the
 * metrics. A symbol, so that logs, JSON and equality never see it.
 */
const CLASSIFIED = Symbol('breakwater.classification');

interface Classified {
  readonly [CLASSIFIED]?: Classification;
}

/** The classification made of `err` where it failed; undefined if none was made. */
export function classificationOf(err: unknown): Classification | undefined {
  return typeof err === 'object' && err !== null ? (err as Classified)[CLASSIFIED] : undefined;
}

/** Carries `c` on `err` (an object; a thrown primitive is cheap to classify again). */
export function carryClassification(err: unknown, c: Classification): void {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
    Object.defineProperty(err, CLASSIFIED, { value: c, configurable: true });
  }
}

/**
 * The classification `err` carries, or else `classifier`'s, made now and carried from here:
 * however many places ask, an error is classified once.
 */
export function classifyOnce(
  classifier: ErrorClassifier,
  err: unknown,
  now: number,
): Classification {
  const carried = classificationOf(err);
  if (carried !== undefined) return carried;
  const c = classifier.classify(err, now);
  carryClassification(err, c);
  return c;
}

export function isFailureClass(outcome: OutcomeClass): outcome is FailureClass {
  return (
    outcome === 'ServerError' ||
    outcome === 'Overloaded' ||
    outcome === 'Timeout' ||
    outcome === 'ConnectionError' ||
    outcome === 'RateLimited'
  );
}

function of(outcome: OutcomeClass, retryable: boolean): Classification {
  return Object.freeze({ outcome, retryable });
}
export const CANCELLED = of('Cancelled', false);
export const CONNECTION = of('ConnectionError', true);
export const TIMEOUT = of('Timeout', true);
export const UNKNOWN = of('Unknown', false);

const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * What any provider's classifier says of an error that is not the provider's own answer: the
 * guard's refusals (Rejected), its deadline (Timeout), the caller giving up (Cancelled), and
 * Node's or undici's transport errors; anything else is Unknown.
 */
export function classifyCommonError(err: unknown): Classification {
  if (err instanceof TimeoutError) return TIMEOUT;
  if (err instanceof CancelledError) return CANCELLED;
  if (
    err instanceof CircuitOpenError ||
    err instanceof RateLimitedError ||
    err instanceof BulkheadFullError ||
    err instanceof BreakerLimitError
  ) {
    return { outcome: 'Rejected', retryable: false, retryAfterMs: err.retryAfterMs };
  }
  if (err instanceof BudgetExhaustedError)
    return { outcome: 'Rejected', retryable: false, retryAfterMs: err.retryAfterMs };
  if (err instanceof UnpricedModelError || err instanceof UnboundedCallError)
    return { outcome: 'Rejected', retryable: false };
  return classifyTransportError(err, 0);
}

export function classifyTransportError(err: unknown, depth: number): Classification {
  if (typeof err !== 'object' || err === null || depth > 3) return UNKNOWN;
  const { name, code, cause } = err as { name?: unknown; code?: unknown; cause?: unknown };
  if (name === 'TimeoutError') return TIMEOUT; // DOMException from AbortSignal.timeout()
  if (name === 'AbortError') return CANCELLED;
  if (typeof code === 'string') {
    if (TIMEOUT_CODES.has(code)) return TIMEOUT;
    if (CONNECTION_CODES.has(code)) return CONNECTION;
  }
  if (cause !== undefined) {
    const inner = classifyTransportError(cause, depth + 1);
    if (inner !== UNKNOWN) return inner;
    // undici: "TypeError: fetch failed" with an unrecognised cause is still a failed connection.
    if (name === 'TypeError' && (err as { message?: unknown }).message === 'fetch failed') {
      return CONNECTION;
    }
  }
  return UNKNOWN;
}
