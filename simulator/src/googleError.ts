/**
 * Google Cloud's error shape, `{"error":{"code","message","status"}}`, which Vertex AI uses for
 * what its own front end refuses (credentials, quota, availability), and the mapping of the
 * simulator's error replies to it. Errors that come from the model itself keep Anthropic's
 * shape on Vertex too: an overloaded Claude answers 529 `overloaded_error`, and the request
 * validation Claude does answers 400 `invalid_request_error`.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ApiErrorReply } from './anthropicError.ts';
import { sendApiError } from './httpReplies.ts';

const GOOGLE_STATUS: Readonly<Record<number, string>> = {
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function sendGoogleError(
  res: ServerResponse,
  code: number,
  status: string,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = JSON.stringify({ error: { code, message, status } });
  res.writeHead(code, {
    ...headers,
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** An error reply as Vertex answers it: Google's shape for the platform's errors, else Anthropic's. */
export function sendVertexError(
  res: ServerResponse,
  reply: ApiErrorReply,
  requestId: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const status = GOOGLE_STATUS[reply.status];
  if (status === undefined) {
    sendApiError(res, reply, requestId, headers);
    return;
  }
  sendGoogleError(res, reply.status, status, reply.message, headers);
}

export const UNAUTHENTICATED_MESSAGE =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
