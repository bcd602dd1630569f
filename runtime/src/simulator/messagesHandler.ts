/**
 * `POST /v1/messages`, in this order: API key → injected fault → JSON and field validation →
 * the planned reply → rate-limit budget → base latency → the answer, plain or streamed.
 * Faults come before validation, as an overloaded provider refuses before reading the body.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Clock } from '../time/clock.ts';
import { errorBody, type ApiErrorReply } from './anthropicError.ts';
import type { FaultAction } from './faultSpec.ts';
import type { FaultDecision, FaultInjector } from './faultInjector.ts';
import { sendApiError, sendJson } from './httpReplies.ts';
import type { NewId } from './ids.ts';
import { messageBody } from './messageBody.ts';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import type { RateLimitBudget } from './rateLimitBudget.ts';
import { planReply, type Reply } from './replyPlan.ts';
import type { SimulatorStats } from './simulatorStats.ts';
import type { Random } from './seededRandom.ts';
import { messageStreamEvents } from './sseEncoding.ts';
import { paceStream, type StreamPacing } from './streamPacing.ts';
import { playStream } from './streamPlayback.ts';
import { estimateInputTokens } from './tokenEstimate.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } as const;

export interface MessagesContext {
  readonly clock: Clock;
  readonly newId: NewId;
  readonly faults: FaultInjector;
  readonly budget: RateLimitBudget;
  readonly stats: SimulatorStats;
  /** Base latency before every successful answer. */
  readonly latencyMs: number;
  readonly pacing: StreamPacing;
  /** Draws the pauses and cuts of streams, apart from fault rolls and ids. */
  readonly pacingRandom: Random;
  readonly apiKey: string | undefined;
  /** Responses held by a `hang` fault, so that shutdown can cut them. */
  readonly hanging: Set<ServerResponse>;
}

export function handleMessages(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  ctx: MessagesContext,
): void {
  ctx.stats.recordRequest();
  const requestId = ctx.newId('req');
  const fail = (reply: ApiErrorReply, headers?: OutgoingHttpHeaders) => {
    ctx.stats.recordOutcome(`error_${reply.status}`);
    sendApiError(res, reply, requestId, headers);
  };

  if (ctx.apiKey !== undefined && presentedKey(req) !== ctx.apiKey) {
    fail({ status: 401, type: 'authentication_error', message: 'invalid x-api-key' });
    return;
  }

  const fault = ctx.faults.decide(ctx.faults.needsModel ? requestedModel(body) : undefined);
  if (answeredByFault(fault, req, res, ctx, fail)) return;

  const request = readRequest(body, true);
  if (!request.ok) {
    fail(request.error);
    return;
  }
  const reply = planReply(request.request, ctx.newId);
  const admission = ctx.budget.admit(reply);
  if (!admission.admitted) {
    const { exceeded, limit, retryAfterSeconds } = admission;
    const message = `Rate limit exceeded: ${limit} ${exceeded.replace('-', ' ')} per minute (simulated budget)`;
    fail({ status: 429, type: 'rate_limit_error', message, retryAfterSeconds }, admission.headers);
    return;
  }
  const headers: OutgoingHttpHeaders = { ...admission.headers, 'request-id': requestId };
  const { action } = fault;
  const { stream } = request.request;
  after(ctx, res, ctx.latencyMs + fault.latencyMs, () => {
    if (action.kind === 'drop') {
      ctx.stats.recordOutcome('dropped');
      sendPartThenDrop(res, stream, reply, headers);
    } else if (action.kind === 'error') {
      // Only a midStream error gets this far; a plain request gets it as a plain error.
      const error = injectedError(action);
      if (!stream) {
        fail(error);
        return;
      }
      ctx.stats.recordOutcome(`error_${error.status}`);
      sendPartThenError(res, reply, headers, errorBody(error, requestId));
    } else {
      ctx.stats.recordSuccess(reply, stream);
      if (stream) sendStream(res, reply, headers, ctx);
      else sendJson(res, 200, messageBody(reply), headers);
    }
  });
}

/**
 * Carries out a fault that decides the request without a reply: an error, a hang, or a drop
 * before any byte. A mid-response drop needs the planned reply, so the caller handles it.
 */
function answeredByFault(
  fault: FaultDecision,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: MessagesContext,
  fail: (reply: ApiErrorReply) => void,
): boolean {
  const { action } = fault;
  switch (action.kind) {
    case 'none':
      return false;
    case 'hang':
      ctx.stats.recordOutcome('hung');
      ctx.hanging.add(res);
      res.on('close', () => ctx.hanging.delete(res));
      return true;
    case 'error':
      if (action.midStream) return false;
      after(ctx, res, fault.latencyMs, () => {
        fail(injectedError(action));
      });
      return true;
    case 'drop':
      if (action.when === 'mid-response') return false;
      after(ctx, res, fault.latencyMs, () => {
        ctx.stats.recordOutcome('dropped');
        req.socket.destroy();
      });
      return true;
  }
}

/** `POST /v1/messages/count_tokens`: the same body without `max_tokens`, no faults or budget. */
export function handleCountTokens(res: ServerResponse, body: Buffer, newId: NewId): void {
  const requestId = newId('req');
  const request = readRequest(body, false);
  if (!request.ok) {
    sendApiError(res, request.error, requestId);
    return;
  }
  const inputTokens = estimateInputTokens(request.request);
  sendJson(res, 200, JSON.stringify({ input_tokens: inputTokens }), { 'request-id': requestId });
}

/** The `model` of a request body, read ahead of validation for faults that target a model. */
function requestedModel(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as unknown;
    const model =
      typeof json === 'object' && json !== null ? (json as { model?: unknown }).model : undefined;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

type ReadResult =
  | { readonly ok: true; readonly request: MessagesRequest }
  | { readonly ok: false; readonly error: ApiErrorReply };

function readRequest(body: Buffer, requireMaxTokens: boolean): ReadResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: invalid(`body: the request body is not valid JSON (${detail})`) };
  }
  const parsed = parseMessagesRequest(json, { requireMaxTokens });
  return parsed.ok ? parsed : { ok: false, error: invalid(parsed.message) };
}

function invalid(message: string): ApiErrorReply {
  return { status: 400, type: 'invalid_request_error', message };
}

function sendStream(
  res: ServerResponse,
  reply: Reply,
  headers: OutgoingHttpHeaders,
  ctx: MessagesContext,
): void {
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  const writes = paceStream(messageStreamEvents(reply), ctx.pacing, ctx.pacingRandom);
  playStream(res, writes, 'end', ctx.clock);
}

/** Status, headers and about half of the body, then a cut connection. */
function sendPartThenDrop(
  res: ServerResponse,
  stream: boolean,
  reply: Reply,
  headers: OutgoingHttpHeaders,
): void {
  if (stream) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.write(firstHalf(messageStreamEvents(reply)));
  } else {
    const body = Buffer.from(messageBody(reply));
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/json',
      'content-length': body.length,
    });
    res.write(body.subarray(0, Math.floor(body.length / 2)));
  }
  // Let the written part reach the client before the cut.
  setImmediate(() => res.socket?.destroy());
}

/** Half of the stream, then the error as an SSE `error` event, as the API sends an overload. */
function sendPartThenError(
  res: ServerResponse,
  reply: Reply,
  headers: OutgoingHttpHeaders,
  errorJson: string,
): void {
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  res.end(`${firstHalf(messageStreamEvents(reply))}event: error\ndata: ${errorJson}\n\n`);
}

function firstHalf(events: readonly string[]): string {
  return events.slice(0, Math.ceil(events.length / 2)).join('');
}

function injectedError(action: Extract<FaultAction, { kind: 'error' }>): ApiErrorReply {
  const { status, errorType, retryAfterSeconds } = action;
  return { status, type: errorType, message: `Injected fault: ${errorType}`, retryAfterSeconds };
}

/**
 * Runs `answer` after `ms` (at once for 0). A client that leaves first cancels it and is
 * counted as `client_closed`.
 */
function after(ctx: MessagesContext, res: ServerResponse, ms: number, answer: () => void): void {
  if (ms <= 0) {
    answer();
    return;
  }
  const onClose = () => {
    cancel();
    ctx.stats.recordOutcome('client_closed');
  };
  const cancel = ctx.clock.setTimeout(() => {
    res.off('close', onClose);
    answer();
  }, ms);
  res.once('close', onClose);
}

function presentedKey(req: IncomingMessage): string | undefined {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string') return key;
  const authorization = req.headers.authorization;
  return authorization?.startsWith('Bearer ') === true ? authorization.slice(7) : undefined;
}
