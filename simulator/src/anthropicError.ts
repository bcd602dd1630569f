/**
 * The Messages API error shape, `{"type":"error","error":{"type","message"},"request_id"}`,
 * and the error type the real API pairs with each HTTP status.
 */

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

const STATUS_BY_TYPE: Readonly<Record<ApiErrorType, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** An error answer: status, the body's error type (any snake_case word) and message. */
export interface ApiErrorReply {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  /** Sent as `retry-after` (whole seconds) when present. */
  readonly retryAfterSeconds?: number | undefined;
}

export function isKnownErrorType(type: string): type is ApiErrorType {
  return Object.hasOwn(STATUS_BY_TYPE, type);
}

/** The status the real API answers with for a known error type. */
export function statusForErrorType(type: ApiErrorType): number {
  return STATUS_BY_TYPE[type];
}

/** The error type the real API puts in the body for `status`. */
export function errorTypeForStatus(status: number): ApiErrorType {
  for (const [type, known] of Object.entries(STATUS_BY_TYPE)) {
    if (known === status) return type as ApiErrorType;
  }
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** The error body as an object, for an SSE `error` event. */
export function errorObject(reply: ApiErrorReply, requestId: string) {
  return {
    type: 'error',
    error: { type: reply.type, message: reply.message },
    request_id: requestId,
  } as const;
}

export function errorBody(reply: ApiErrorReply, requestId: string): string {
  return JSON.stringify(errorObject(reply, requestId));
}
