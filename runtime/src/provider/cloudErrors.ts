/**
 * Bedrock's and Vertex AI's refusals as the Anthropic SDK would raise the Anthropic API's
 * equivalent: an `APIError` of that error type and the status the Anthropic API pairs with
 * it. The guard classifies it (anthropic/errorClassification.ts) and the server maps it the
 * way it does the Anthropic API's own: a throttled Bedrock call is RateLimited, an
 * unavailable one Overloaded, a validation error a ClientError that is never retried or
 * failed over.
 */
import { APIError } from '@anthropic-ai/sdk/core/error';
import {
  STATUS_BY_ERROR_TYPE,
  type AnthropicErrorType,
} from '../../../contract/src/anthropic/errorTypes.ts';

/** The answer the SDK would have got: `{type: 'error', error: {type, message}}`. */
export function anthropicError(
  type: AnthropicErrorType,
  message: string,
  headers: Headers,
): APIError {
  return APIError.generate(
    STATUS_BY_ERROR_TYPE[type],
    { type: 'error', error: { type, message } },
    undefined,
    headers,
  );
}

/**
 * The Anthropic error type for a cloud's HTTP status, when its own error name says nothing
 * more specific (Bedrock's exception, Google's status).
 */
export function errorTypeForStatus(status: number): AnthropicErrorType {
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status === 408 || status === 504) return 'timeout_error';
  if (status >= 500) return 'api_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  return 'invalid_request_error';
}

/** The same as an `event: error` inside a stream (the relay raises it as the SDK would). */
export function sseErrorEvent(type: AnthropicErrorType, message: string): string {
  return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;
}

/** The provider's message, else what it said in its own words. */
export function messageOf(body: unknown, fallback: string): string {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.message === 'string') return b.message;
    if (typeof b.Message === 'string') return b.Message;
    const error = b.error;
    if (typeof error === 'object' && error !== null) {
      const message = (error as Record<string, unknown>).message;
      if (typeof message === 'string') return message;
    }
  }
  return fallback;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Credentials that cannot be had: the call fails with this message, naming what to fix. */
export class MissingCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingCredentialsError';
  }
}

/** Runs `get`; credentials it cannot have become a 401 the caller and on-call can read. */
export async function withCredentials<T>(get: () => Promise<T>): Promise<T> {
  try {
    return await get();
  } catch (err) {
    if (err instanceof MissingCredentialsError)
      throw anthropicError('authentication_error', err.message, new Headers());
    throw err;
  }
}
