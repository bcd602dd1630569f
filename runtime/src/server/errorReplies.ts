/**
 * The one place the HTTP server turns failures into answers: guard and upstream errors go
 * through the guard's `mapErrorToHttp`; the server's own refusals (bad request, no key,
 * draining) are built here. Every answer is the Anthropic error shape with a request id.
 */
import type { RouteReply } from './routeShapes.ts';
import type { ServerResponse } from 'node:http';
import type { AnthropicErrorType } from '../../../contract/src/anthropic/errorTypes.ts';
import type { Classification } from '../guard/classification.ts';
import { failureOf } from '../provider/anthropic/errorClassification.ts';
import {
  mapErrorToHttp,
  toAnthropicErrorBody,
  type HttpErrorMapping,
} from '../provider/anthropic/httpMapping.ts';
import { countFailure } from './requestCounts.ts';

/** From node:http's CommonJS exports, as in metricsServer.ts (an ESM import loads Node's undici). */
const { STATUS_CODES } = process.getBuiltinModule('node:http');

export function refusal(
  status: number,
  type: AnthropicErrorType,
  message: string,
  retryAfterSeconds?: number,
): HttpErrorMapping {
  return retryAfterSeconds === undefined
    ? { status, type, message, shouldRetry: status >= 500 || status === 429 }
    : { status, type, message, retryAfterSeconds, shouldRetry: true };
}

export const badRequest = (message: string): HttpErrorMapping =>
  refusal(400, 'invalid_request_error', message);

export const unauthorized = (message: string): HttpErrorMapping =>
  refusal(401, 'authentication_error', message);

export const draining = (): HttpErrorMapping =>
  refusal(503, 'overloaded_error', 'the runtime is shutting down; retry on another replica', 1);

/**
 * A durable call the journal store took and no replica confirmed (`acknowledge: Replicas`,
 * decision 0062): refused, retryable, rather than run on a write a failover could lose.
 */
export const unacknowledged = (message: string): HttpErrorMapping =>
  refusal(
    503,
    'api_error',
    `${message}; nothing was called: ask again, the call is taken once a replica of the journal store (acknowledge: Replicas) confirms its writes`,
    1,
  );

export const notReady = (): HttpErrorMapping =>
  refusal(503, 'api_error', 'no policy loaded yet', 1);

/**
 * A failure as the error of an answer: what a run the runtime owns records in its place
 * (durable/ownedRunExecution.ts), the same `/v1/agent/invoke` would have answered with.
 */
export function failureError(
  err: unknown,
  now: number,
): { readonly status: number; readonly type: AnthropicErrorType; readonly message: string } {
  const mapping = mapFailure(err, failureOf(err, now));
  return { status: mapping.status, type: mapping.type, message: mapping.message };
}

export function mapFailure(err: unknown, failure: Classification): HttpErrorMapping {
  const mapping = mapErrorToHttp(err, failure);
  return { ...mapping, message: scrubSecrets(mapping.message) };
}

/** Errors raised by the framework itself (body parsing, size limits, media types). */
export function mapFrameworkError(err: {
  statusCode?: number;
  code?: string;
  message: string;
}): HttpErrorMapping {
  const status = err.statusCode ?? 500;
  if (status === 413) return refusal(413, 'request_too_large', 'request body is too large');
  if (status === 415)
    return refusal(415, 'invalid_request_error', 'content-type must be application/json');
  if (status >= 400 && status < 500) {
    const message =
      err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'request body is empty'
        : err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.message.includes('JSON')
          ? `request body is not valid JSON: ${err.message}`
          : err.message;
    return refusal(status, status === 404 ? 'not_found_error' : 'invalid_request_error', message);
  }
  return refusal(500, 'api_error', 'internal error');
}

/**
 * A request Node's HTTP parser refused before any route ran: broken framing, a head past the
 * size limit, a client too slow to send one, an expectation the server does not meet.
 */
export function mapClientError(code: string | undefined): HttpErrorMapping {
  if (code === 'HPE_HEADER_OVERFLOW')
    return refusal(431, 'request_too_large', 'request headers are too large');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return refusal(408, 'invalid_request_error', 'the request was not sent in time');
  if (code === 'EXPECTATION_FAILED')
    return refusal(417, 'invalid_request_error', 'the only expectation supported is 100-continue');
  return refusal(400, 'invalid_request_error', 'malformed HTTP request');
}

/** The whole HTTP/1.1 answer to a refused request, written straight to its socket. */
export function rawHttpError(mapping: HttpErrorMapping, requestId: string): string {
  const body = errorBody(mapping, requestId);
  const head = Object.entries(errorHeaders(mapping, requestId))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${String(mapping.status)} ${STATUS_CODES[mapping.status] ?? ''}\r\n${head}` +
    `content-length: ${String(Buffer.byteLength(body))}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * An error answer's headers, as the API's: its id (`request-id`, which the SDKs expose as the
 * error's request id), when to ask again, and whether asking again can help.
 */
export function errorHeaders(mapping: HttpErrorMapping, requestId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'request-id': mapping.requestId ?? requestId,
    ...(mapping.retryAfterSeconds === undefined
      ? {}
      : { 'retry-after': String(mapping.retryAfterSeconds) }),
    ...(mapping.shouldRetry ? {} : { 'x-should-retry': 'false' }),
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The error this request was answered with, logged with its id (apiServer.ts). */
    answeredError: (HttpErrorMapping & { readonly requestId: string }) | null;
    /** Set when the route has logged the failure itself (routeCall.ts `failCall`). */
    failureLogged: boolean;
  }
}

export function sendError<R extends RouteReply>(reply: R, mapping: HttpErrorMapping): R {
  const request = reply.request;
  countFailure(request, mapping);
  request.answeredError = { ...mapping, requestId: mapping.requestId ?? request.id };
  for (const [name, value] of Object.entries(errorHeaders(mapping, request.id)))
    reply.header(name, value);
  return reply.code(mapping.status).send(errorBody(mapping, request.id));
}

/** An error answer on a raw (hijacked) response whose head has not gone out. */
export function writeError(
  res: ServerResponse,
  mapping: HttpErrorMapping,
  requestId: string,
): void {
  res.writeHead(mapping.status, errorHeaders(mapping, requestId));
  res.end(errorBody(mapping, requestId));
}

/** The error's body: the provider's request id when it answered with the error, else `requestId`. */
export function errorBody(mapping: HttpErrorMapping, requestId: string): string {
  return JSON.stringify(toAnthropicErrorBody(mapping, requestId));
}

/**
 * Provider errors can echo request details back; a key-looking token never leaves the
 * process, whatever an upstream put into its message.
 */
export function scrubSecrets(message: string): string {
  // A long token with a letter in it; a long number (an amount, a count) is not a key.
  return message.replace(
    /\b(sk-[A-Za-z0-9_-]{6,}|(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,})\b/g,
    '[redacted]',
  );
}
