/**
 * The Anthropic Messages API's own route, `POST /v1/messages`: the key in `x-api-key` (or a
 * bearer token), the model and `stream` in the body, SSE for a stream. Vertex's wire borrows
 * its dialect.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errorObject } from './anthropicError.ts';
import { sendApiError } from './httpReplies.ts';
import { messageBody } from './messageBody.ts';
import { readRequest, requestedModel } from './messagesBody.ts';
import type { MessagesCall, MessagesContext } from './messagesHandler.ts';
import { encodeSseEvent } from './sseEncoding.ts';
import { cutInsideDataLine } from './streamPacing.ts';
import type { Refusal, WireDialect } from './wireDialect.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const;

/** The Anthropic Messages API's own format: the body names the model and asks for a stream. */
export const ANTHROPIC_DIALECT: WireDialect = {
  provider: 'anthropic',
  sendError: sendApiError,
  statusOf: (reply) => reply.status,
  successHeaders: (_reply, requestId) => ({ 'request-id': requestId }),
  plainBody: messageBody,
  streamHeaders: SSE_HEADERS,
  encodeEvents: (events) => events.map(({ event, data }) => encodeSseEvent(event, data)),
  encodeStreamError: (reply, requestId) => encodeSseEvent('error', errorObject(reply, requestId)),
  cutPoint: cutInsideDataLine,
  budgeted: true,
};

/** `POST /v1/messages`: the API key, then the body as the Messages API reads it. */
export function anthropicCall(
  req: IncomingMessage,
  body: Buffer,
  ctx: MessagesContext,
): MessagesCall {
  const requestId = ctx.newId('req');
  const keyRefused = ctx.apiKey !== undefined && presentedKey(req) !== ctx.apiKey;
  const refusal: Refusal | undefined = keyRefused
    ? {
        status: 401,
        send: (res) => {
          const reply = { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
          sendApiError(res, reply, requestId);
        },
      }
    : undefined;
  return {
    account: `anthropic:${keyFingerprint(presentedKey(req))}`,
    dialect: ANTHROPIC_DIALECT,
    requestId,
    refusal,
    requestedModel: () => requestedModel(body),
    readRequest: () => readRequest(body, true),
  };
}

function presentedKey(req: IncomingMessage): string | undefined {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string') return key;
  const authorization = req.headers.authorization;
  return authorization?.startsWith('Bearer ') === true ? authorization.slice(7) : undefined;
}

/** A key's prompt cache is its own; the key itself is not kept. */
function keyFingerprint(key: string | undefined): string {
  return key === undefined ? 'none' : createHash('sha256').update(key).digest('hex').slice(0, 16);
}
