/**
 * The Messages API error shape, `{"type":"error","error":{"type","message"},"request_id"}`,
 * and the error type the real API pairs with each HTTP status.
 */
import {
  STATUS_BY_ERROR_TYPE,
  type AnthropicErrorType,
} from '../../contract/src/anthropic/errorTypes.ts';

/** An error answer: status, the body's error type (any snake_case word) and message. */
export interface ApiErrorReply {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  /** Sent as `retry-after` (whole seconds) when present. */
  readonly retryAfterSeconds?: number | undefined;
}

export function isKnownErrorType(type: string): type is AnthropicErrorType {
  return Object.hasOwn(STATUS_BY_ERROR_TYPE, type);
}

/** The status the real API answers with for a known error type. */
export function statusForErrorType(type: AnthropicErrorType): number {
  return STATUS_BY_ERROR_TYPE[type];
}

/** The error type the real API puts in the body for `status`. */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  for (const [type, known] of Object.entries(STATUS_BY_ERROR_TYPE)) {
    if (known === status) return type as AnthropicErrorType;
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

/** 400: the request, or a field of it, is not what the API takes; `message` names which. */
export function invalid(message: string): ApiErrorReply {
  return { status: 400, type: 'invalid_request_error', message };
}
