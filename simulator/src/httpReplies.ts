/** Writing JSON and Anthropic-shaped error answers on a node:http response. */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errorBody, type ApiErrorReply } from './anthropicError.ts';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendApiError(
  res: ServerResponse,
  reply: ApiErrorReply,
  requestId: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const withRetry =
    reply.retryAfterSeconds === undefined
      ? headers
      : { ...headers, 'retry-after': String(reply.retryAfterSeconds) };
  sendJson(res, reply.status, errorBody(reply, requestId), {
    ...withRetry,
    'request-id': requestId,
  });
}
