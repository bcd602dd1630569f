/**
 * What went wrong with a call, in the terms the guard acts on: which failure class (for the
 * breaker's `failOn`), whether a retry can help, and how long the provider asked us to wait.
 *
 * Spend limits: a 429 (or 402) that says the organisation is out of money is not "slow down"
 * and not "the provider is broken". It is recognised, in this order, by the SDK's stable
 * `error.details.error_code` (`contract_spend_limit_reached`, `enforced_spend_limit_reached`,
 * `linked_organization_spend_limit_reached`, `linked_organization_billing_unavailable`), by
 * the error type `billing_error`, and, for bodies without either, by a message that mentions
 * a credit balance, a spend/spending/usage limit or billing. It is never retried and never
 * counted against the provider.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import {
  BulkheadFullError,
  CancelledError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from './errors.ts';
import { parseRetryAfterMs, readHeader, type HeaderSource } from './headers.ts';

import type { FailureClass } from '../../../contract/src/api/vocabulary.ts';

export { FAILURE_CLASSES, type FailureClass } from '../../../contract/src/api/vocabulary.ts';

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
}

/** A response as a raw HTTP client sees it (tools, or a provider reached without the SDK). */
export interface HttpOutcome {
  readonly status: number;
  /** Parsed JSON (Anthropic shape `{type: 'error', error: {type, message, details}}`) or text. */
  readonly body?: unknown;
  readonly headers?: HeaderSource | undefined;
}

/**
 * A failed HTTP answer from a client other than the Anthropic SDK (an agent's HTTP tools):
 * thrown inside a guarded call, it is classified by its status and body like the SDK's own
 * errors, so a tool's 5xx counts against that tool's breaker.
 */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: HeaderSource | undefined;

  constructor(what: string, outcome: HttpOutcome) {
    super(`${what} answered ${outcome.status}`);
    this.name = 'HttpStatusError';
    this.status = outcome.status;
    this.body = outcome.body;
    this.headers = outcome.headers;
  }
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

const SPEND_LIMIT_CODES: ReadonlySet<string> = new Set([
  'contract_spend_limit_reached',
  'enforced_spend_limit_reached',
  'linked_organization_spend_limit_reached',
  'linked_organization_billing_unavailable',
]);
const SPEND_LIMIT_MESSAGE = /credit balance|spend(?:ing)? limit|usage limit|billing/i;

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

function of(outcome: OutcomeClass, retryable: boolean): Classification {
  return Object.freeze({ outcome, retryable });
}
const CANCELLED = of('Cancelled', false);
const CONNECTION = of('ConnectionError', true);
const TIMEOUT = of('Timeout', true);
const UNKNOWN = of('Unknown', false);
const SUCCESS = of('Success', false);

/** Classifies anything a guarded call threw: SDK errors, the guard's own, Node/undici errors. */
export function classifyError(err: unknown, now: number): Classification {
  if (err instanceof APIError) return classifyApiError(err as APIError, now);
  if (err instanceof HttpStatusError) return classifyHttpOutcome(err, now);
  if (err instanceof TimeoutError) return TIMEOUT;
  if (err instanceof CancelledError) return CANCELLED;
  if (
    err instanceof CircuitOpenError ||
    err instanceof RateLimitedError ||
    err instanceof BulkheadFullError
  ) {
    return { outcome: 'Rejected', retryable: false, retryAfterMs: err.retryAfterMs };
  }
  return classifyPlainError(err, 0);
}

function classifyApiError(err: APIError, now: number): Classification {
  if (err instanceof APIUserAbortError) return CANCELLED;
  if (err instanceof APIConnectionTimeoutError) return TIMEOUT;
  if (err instanceof APIConnectionError) {
    // The SDK wraps undici's errors; a connect timeout is still a timeout.
    const cause = classifyPlainError(err.cause, 0);
    return cause.outcome === 'Timeout' ? TIMEOUT : CONNECTION;
  }
  if (err.status === undefined) {
    // An error event inside a stream: no status, only the body's type.
    return classifyErrorType(err.type, err.apiMessage ?? err.message);
  }
  return classifyResponse(
    err.status,
    err.type,
    err.errorCode,
    err.apiMessage ?? err.message,
    err.headers,
    now,
  );
}

/** Classifies a raw HTTP response, success included. */
export function classifyHttpOutcome(outcome: HttpOutcome, now: number): Classification {
  if (outcome.status < 400) return SUCCESS;
  const { type, code, message } = readErrorBody(outcome.body);
  return classifyResponse(outcome.status, type, code, message, outcome.headers, now);
}

function classifyResponse(
  status: number,
  type: string | null | undefined,
  errorCode: string | null | undefined,
  message: string | undefined,
  headers: HeaderSource | undefined,
  now: number,
): Classification {
  let outcome: OutcomeClass;
  if (isSpendLimit(status, type, errorCode, message)) outcome = 'SpendLimited';
  else if (status === 529 || type === 'overloaded_error') outcome = 'Overloaded';
  else if (status === 429) outcome = 'RateLimited';
  else if (status === 408 || status === 504 || type === 'timeout_error') outcome = 'Timeout';
  else if (status === 499) outcome = 'Cancelled';
  else if (status >= 500) outcome = 'ServerError';
  else outcome = 'ClientError';

  let retryable = isFailureClass(outcome);
  // The provider may say explicitly; the SDK obeys this header too.
  const shouldRetry = readHeader(headers, 'x-should-retry');
  if (shouldRetry === 'false') retryable = false;
  else if (shouldRetry === 'true' && outcome !== 'SpendLimited' && outcome !== 'Cancelled') {
    retryable = true;
  }
  return { outcome, retryable, status, retryAfterMs: parseRetryAfterMs(headers, now) };
}

function isSpendLimit(
  status: number,
  type: string | null | undefined,
  errorCode: string | null | undefined,
  message: string | undefined,
): boolean {
  if (status !== 429 && status !== 402 && status !== 400 && status !== 403) return false;
  if (errorCode !== null && errorCode !== undefined && SPEND_LIMIT_CODES.has(errorCode))
    return true;
  if (type === 'billing_error') return true;
  if (status === 402) return true;
  return message !== undefined && SPEND_LIMIT_MESSAGE.test(message);
}

function classifyErrorType(type: string | null, message: string): Classification {
  switch (type) {
    case 'overloaded_error':
      return of('Overloaded', true);
    case 'api_error':
      return of('ServerError', true);
    case 'timeout_error':
      return TIMEOUT;
    case 'rate_limit_error':
      return SPEND_LIMIT_MESSAGE.test(message)
        ? of('SpendLimited', false)
        : of('RateLimited', true);
    case 'billing_error':
      return of('SpendLimited', false);
    case null:
      return UNKNOWN;
    default:
      return of('ClientError', false);
  }
}

function classifyPlainError(err: unknown, depth: number): Classification {
  if (typeof err !== 'object' || err === null || depth > 3) return UNKNOWN;
  const { name, code, cause } = err as { name?: unknown; code?: unknown; cause?: unknown };
  if (name === 'TimeoutError') return TIMEOUT; // DOMException from AbortSignal.timeout()
  if (name === 'AbortError') return CANCELLED;
  if (typeof code === 'string') {
    if (TIMEOUT_CODES.has(code)) return TIMEOUT;
    if (CONNECTION_CODES.has(code)) return CONNECTION;
  }
  if (cause !== undefined) {
    const inner = classifyPlainError(cause, depth + 1);
    if (inner !== UNKNOWN) return inner;
    // undici: "TypeError: fetch failed" with an unrecognised cause is still a failed connection.
    if (name === 'TypeError' && (err as { message?: unknown }).message === 'fetch failed') {
      return CONNECTION;
    }
  }
  return UNKNOWN;
}

function readErrorBody(body: unknown): { type?: string; code?: string; message?: string } {
  if (typeof body === 'string') {
    try {
      return readErrorBody(JSON.parse(body) as unknown);
    } catch {
      return { message: body };
    }
  }
  if (typeof body !== 'object' || body === null) return {};
  const outer = body as { error?: unknown };
  const error = (typeof outer.error === 'object' && outer.error !== null ? outer.error : body) as {
    type?: unknown;
    message?: unknown;
    details?: { error_code?: unknown } | null;
  };
  const result: { type?: string; code?: string; message?: string } = {};
  if (typeof error.type === 'string') result.type = error.type;
  if (typeof error.message === 'string') result.message = error.message;
  const code = error.details?.error_code;
  if (typeof code === 'string') result.code = code;
  return result;
}

/** Headers an error carries (an SDK APIError has them), for adaptive pacing. */
export function errorHeaders(err: unknown): HeaderSource | undefined {
  if (!(err instanceof APIError)) return undefined;
  const headers: unknown = (err as APIError).headers;
  return headers instanceof Headers ? headers : undefined;
}
