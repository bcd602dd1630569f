/**
 * The one place where a failed guarded call becomes an HTTP answer, in the Anthropic error
 * shape (DESIGN §4): 429 + Retry-After when limited, 503 when the breaker is open (failing
 * fast unless its policy's openAnswer asks callers to wait), 503 + Retry-After when the
 * bulkhead is full, 504 on timeout, 529 when the provider was overloaded, 502 for
 * other upstream failures, 4xx client errors passed through.
 */
import type { AnthropicErrorType } from '../../../../contract/src/anthropic/errorTypes.ts';
import type { Classification } from '../../guard/classification.ts';
import { isGuardError, type CircuitOpenError } from '../../guard/errors.ts';

export interface HttpErrorMapping {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
  /** For the Retry-After header; whole seconds, at least 1. */
  readonly retryAfterSeconds?: number;
  /** False when retrying cannot help (a spend limit): send `x-should-retry: false`. */
  readonly shouldRetry: boolean;
  /** The provider's own request id, when the provider answered with this error. */
  readonly requestId?: string;
}

export interface AnthropicErrorBody {
  readonly type: 'error';
  readonly error: { readonly type: AnthropicErrorType; readonly message: string };
  /** As the API's: the id a caller quotes to find the request (the SDKs read it). */
  readonly request_id: string;
}

/** Seconds for Retry-After: rounded up, never 0 (0 invites a stampede). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Retry-After for a breaker forced open. A forced open has no natural end: it lasts until
 * someone lifts the override, and its `until` may be a date years away. Callers are told to
 * check back within a minute rather than to wait for that date.
 */
export const FORCED_OPEN_RETRY_AFTER_MS = 60_000;

/**
 * `failure` is what the error's attempt made of it (errorClassification.ts `failureOf`): the
 * answer is built from it, never from a second look at the error's body.
 */
export function mapErrorToHttp(err: unknown, failure: Classification): HttpErrorMapping {
  const mapping = errorAnswer(err, failure);
  const requestId = providerRequestId(err);
  return requestId === undefined ? mapping : { ...mapping, requestId };
}

/**
 * The provider's `request-id`, as the SDK's error read it from the answer's headers (a cloud's
 * own id, under another header, is not one the caller could quote to Anthropic).
 */
function providerRequestId(err: unknown): string | undefined {
  if (isGuardError(err) || typeof err !== 'object' || err === null) return undefined;
  const id: unknown = (err as { requestID?: unknown }).requestID;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function errorAnswer(err: unknown, failure: Classification): HttpErrorMapping {
  if (isGuardError(err)) {
    switch (err.code) {
      case 'RATE_LIMITED':
        return limited(err.message, err.retryAfterMs);
      case 'CIRCUIT_OPEN':
        return breakerOpen(err);
      case 'BULKHEAD_FULL':
        return unavailable(err.message, err.retryAfterMs);
      case 'TIMEOUT':
        return { status: 504, type: 'timeout_error', message: err.message, shouldRetry: true };
      case 'CANCELLED':
        return { status: 499, type: 'api_error', message: err.message, shouldRetry: false };
      case 'LOOP_DETECTED':
        // The run, not the provider: running it again would loop again.
        return {
          status: 422,
          type: 'invalid_request_error',
          message: err.message,
          shouldRetry: false,
        };
      case 'BUDGET_EXHAUSTED':
        // Until the period ends: the message says when, Retry-After how long, and
        // x-should-retry: false when retrying cannot fit the same call sooner.
        return { ...limited(err.message, err.retryAfterMs), shouldRetry: err.retryHelps };
      // The agent's configuration (no price), or a request the caller must bound: not the
      // provider's state.
      case 'UNPRICED_MODEL':
      case 'UNBOUNDED_CALL':
        return {
          status: 400,
          type: 'invalid_request_error',
          message: err.message,
          shouldRetry: false,
        };
      case 'BREAKER_LIMIT':
        // The runtime's own capacity, not the provider's state: no breaker is open.
        return {
          status: 503,
          type: 'api_error',
          message: err.message,
          retryAfterSeconds: retryAfterSeconds(err.retryAfterMs),
          shouldRetry: false,
        };
    }
  }

  const message = upstreamMessage(err);
  const c = failure;
  switch (c.outcome) {
    case 'RateLimited':
      return limited(message, c.retryAfterMs ?? 1000);
    case 'SpendLimited':
      return { status: 429, type: 'billing_error', message, shouldRetry: false };
    case 'Timeout':
      return { status: 504, type: 'timeout_error', message, shouldRetry: true };
    case 'Overloaded':
      // As the API answers it (the SDKs raise OverloadedError for a 529), not folded into 502.
      return withRetryAfter(
        { status: 529, type: 'overloaded_error', message, shouldRetry: true },
        c.retryAfterMs,
      );
    case 'ServerError':
    case 'ConnectionError':
      return withRetryAfter(
        { status: 502, type: 'api_error', message, shouldRetry: true },
        c.retryAfterMs,
      );
    case 'ClientError':
      return clientError(c.status ?? 400, message);
    case 'Cancelled':
      return { status: 499, type: 'api_error', message, shouldRetry: false };
    case 'Rejected':
    case 'Success':
    case 'Unknown':
      return { status: 500, type: 'api_error', message: 'internal error', shouldRetry: false };
  }
}

/**
 * What the provider said, as its own message: the SDK's error message is the status and the
 * whole body as JSON (`400 {"type":"error","error":{...},"request_id":...}`), which would
 * reach the caller escaped inside our own error, the field it names buried.
 */
function upstreamMessage(err: unknown): string {
  if (!(err instanceof Error)) return 'upstream call failed';
  const body: unknown = (err as { error?: unknown }).error;
  if (typeof body === 'object' && body !== null) {
    // Anthropic's {"type":"error","error":{"message"}}; Bedrock's and Vertex's {"message"}.
    const inner: unknown = (body as { error?: unknown }).error;
    const said =
      typeof inner === 'object' && inner !== null
        ? (inner as { message?: unknown }).message
        : (body as { message?: unknown }).message;
    if (typeof said === 'string' && said !== '') return said;
  }
  return err.message;
}

/**
 * `{type: 'error', error: {type, message}, request_id}`, ready to serialise: the provider's id
 * when it answered with the error, else `requestId`, the runtime's own for the request.
 */
export function toAnthropicErrorBody(
  mapping: HttpErrorMapping,
  requestId: string,
): AnthropicErrorBody {
  return {
    type: 'error',
    error: { type: mapping.type, message: mapping.message },
    request_id: mapping.requestId ?? requestId,
  };
}

/**
 * An open breaker's answer, as its policy's `openAnswer` says. Unset, it fails fast: no
 * Retry-After and `x-should-retry: false`, since the SDKs honour Retry-After and retry 503s,
 * which would hold a caller for minutes and land its retries on the half-open probes.
 */
function breakerOpen(err: CircuitOpenError): HttpErrorMapping {
  const { openRetryAfter, openMaxRetryAfterMs } = err.answer;
  // Unset is None: a policy that never named openAnswer (an older operator's too) fails fast.
  if (openRetryAfter === undefined || openRetryAfter === 'None')
    return { status: 503, type: 'overloaded_error', message: err.message, shouldRetry: false };
  const remaining =
    err.state === 'ForcedOpen'
      ? Math.min(err.retryAfterMs, FORCED_OPEN_RETRY_AFTER_MS)
      : err.retryAfterMs;
  return unavailable(
    err.message,
    openRetryAfter === 'Bounded' && openMaxRetryAfterMs !== undefined
      ? Math.min(remaining, openMaxRetryAfterMs)
      : remaining,
  );
}

function unavailable(message: string, retryAfterMs: number): HttpErrorMapping {
  return {
    status: 503,
    type: 'overloaded_error',
    message,
    retryAfterSeconds: retryAfterSeconds(retryAfterMs),
    shouldRetry: true,
  };
}

function limited(message: string, retryAfterMs: number): HttpErrorMapping {
  return {
    status: 429,
    type: 'rate_limit_error',
    message,
    retryAfterSeconds: retryAfterSeconds(retryAfterMs),
    shouldRetry: true,
  };
}

function withRetryAfter(
  mapping: HttpErrorMapping,
  retryAfterMs: number | undefined,
): HttpErrorMapping {
  return retryAfterMs === undefined
    ? mapping
    : { ...mapping, retryAfterSeconds: retryAfterSeconds(retryAfterMs) };
}

/**
 * The caller's request was wrong: say so with the provider's status. 401/403 from the
 * provider are the runtime's own credentials failing, which the caller cannot fix: 502, with
 * the provider's word on why (a cloud backend's names the backend and the field to fix).
 */
function clientError(status: number, message: string): HttpErrorMapping {
  switch (status) {
    case 401:
    case 403:
      return {
        status: 502,
        type: 'api_error',
        message: `the provider refused the runtime's credentials (${status}): ${message}`,
        shouldRetry: false,
      };
    case 404:
      return { status, type: 'not_found_error', message, shouldRetry: false };
    case 413:
      return { status, type: 'request_too_large', message, shouldRetry: false };
    default:
      return { status, type: 'invalid_request_error', message, shouldRetry: false };
  }
}
