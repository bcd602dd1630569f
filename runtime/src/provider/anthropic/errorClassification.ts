/**
 * The Anthropic API's errors in the guard's terms (runtime/src/guard/classification.ts): the
 * SDK's error classes, the Messages API's error types and statuses, `x-should-retry`, and
 * `retry-after`.
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
} from '@anthropic-ai/sdk/core/error';
import {
  CANCELLED,
  CONNECTION,
  TIMEOUT,
  UNKNOWN,
  carryClassification,
  classifyCommonError,
  classifyOnce,
  classifyTransportError,
  isFailureClass,
  type Classification,
  type ErrorClassifier,
  type OutcomeClass,
  type ProviderError,
} from '../../guard/classification.ts';
import { parseRetryAfterMs, readHeader, type HeaderSource } from '../../guard/headers.ts';

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

  /** `classified`: what the caller already made of `outcome`, carried so no one parses it again. */
  constructor(what: string, outcome: HttpOutcome, classified?: Classification) {
    super(`${what} answered ${outcome.status}`);
    this.name = 'HttpStatusError';
    this.status = outcome.status;
    this.body = outcome.body;
    this.headers = outcome.headers;
    if (classified !== undefined) carryClassification(this, classified);
  }
}

const SPEND_LIMIT_CODES: ReadonlySet<string> = new Set([
  'contract_spend_limit_reached',
  'enforced_spend_limit_reached',
  'linked_organization_spend_limit_reached',
  'linked_organization_billing_unavailable',
]);
const SPEND_LIMIT_MESSAGE = /credit balance|spend(?:ing)? limit|usage limit|billing/i;

function of(outcome: OutcomeClass, retryable: boolean): Classification {
  return Object.freeze({ outcome, retryable });
}
const SUCCESS = of('Success', false);

/** Classifies anything a guarded call threw: SDK errors, the guard's own, Node/undici errors. */
export function classifyError(err: unknown, now: number): Classification {
  if (err instanceof APIError) return classifyApiError(err as APIError, now);
  if (err instanceof HttpStatusError) return classifyHttpOutcome(err, now);
  return classifyCommonError(err);
}

function classifyApiError(err: APIError, now: number): Classification {
  if (err instanceof APIUserAbortError) return CANCELLED;
  if (err instanceof APIConnectionTimeoutError) return TIMEOUT;
  if (err instanceof APIConnectionError) {
    // The SDK wraps undici's errors; a connect timeout is still a timeout.
    const cause = classifyTransportError(err.cause, 0);
    return cause.outcome === 'Timeout' ? TIMEOUT : CONNECTION;
  }
  if (err.status === undefined) {
    // An error event inside a stream: no status, only the body's type.
    const c = classifyErrorType(err.type, err.apiMessage ?? err.message);
    return err.type === null ? c : { ...c, providerError: providerError(err.type, err.apiMessage) };
  }
  return classifyResponse(
    err.status,
    err.type,
    err.errorCode,
    err.apiMessage ?? err.message,
    err.headers,
    now,
    err.apiMessage,
  );
}

function providerError(type: string, message: string | null | undefined): ProviderError {
  return message === null || message === undefined ? { type } : { type, message };
}

/** Classifies a raw HTTP response, success included. */
export function classifyHttpOutcome(outcome: HttpOutcome, now: number): Classification {
  if (outcome.status < 400) return SUCCESS;
  const { type, code, message } = readErrorBody(outcome.body);
  return classifyResponse(outcome.status, type, code, message, outcome.headers, now, message);
}

function classifyResponse(
  status: number,
  type: string | null | undefined,
  errorCode: string | null | undefined,
  message: string | undefined,
  headers: HeaderSource | undefined,
  now: number,
  /** The body's own message, for the classification's `providerError`. */
  bodyMessage: string | null | undefined,
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
  const retryAfterMs = parseRetryAfterMs(headers, now);
  if (type === null || type === undefined) return { outcome, retryable, status, retryAfterMs };
  return {
    outcome,
    retryable,
    status,
    retryAfterMs,
    providerError: providerError(type, bodyMessage),
  };
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

/** The Anthropic API's classifier, as the guard takes it. */
export const anthropicClassifier: ErrorClassifier = {
  classify: classifyError,
  headersOf: errorHeaders,
};

/**
 * What a failed call's error means: the classification its attempt made where it failed,
 * carried on the error. An error no attempt classified (the guard's own refusals, a request
 * refused before any call) is classified here, once, and carries it from then on.
 */
export function failureOf(err: unknown, now: number): Classification {
  return classifyOnce(anthropicClassifier, err, now);
}
