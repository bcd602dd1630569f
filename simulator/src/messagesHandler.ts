/**
 * `POST /v1/messages`, in this order: API key → injected fault → JSON and field validation →
 * the planned reply → rate-limit budget → base latency → the answer, plain or streamed.
 * Faults come before validation, as an overloaded provider refuses before reading the body;
 * a fault inside a stream (`inStream`) needs the planned reply, so it strikes as the answer
 * begins.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Clock } from '../../platform/src/time/clock.ts';
import { errorObject, type ApiErrorReply } from './anthropicError.ts';
import type { FaultInjector } from './faultInjector.ts';
import {
  isInStream,
  type FaultAction,
  type InjectedAction,
  type InStreamAction,
  type StreamPoint,
} from './faultSpec.ts';
import { sendApiError, sendJson } from './httpReplies.ts';
import type { NewId } from './ids.ts';
import { messageBody } from './messageBody.ts';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import type { RateLimitBudget } from './rateLimitBudget.ts';
import { planReply, type Reply } from './replyPlan.ts';
import type { Random } from '../../platform/src/random/random.ts';
import type { Outcome, SimulatorStats } from './simulatorStats.ts';
import { encodeSseEvent, eventsBeforeFault, messageStreamEvents } from './sseEncoding.ts';
import { paceStream, type StreamPacing } from './streamPacing.ts';
import { playStream, type StreamEnding } from './streamPlayback.ts';
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
  /** Responses held by a `hang` fault (a stall in a stream too), so that shutdown can cut them. */
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
  const { action } = fault;
  // An in-stream fault needs a valid request and its planned reply; any other decides now.
  if (action.kind !== 'none' && !isInStream(action)) {
    after(ctx, res, fault.latencyMs, () => {
      answerPlainly(action, req, res, ctx, fail);
    });
    return;
  }

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
  const { stream } = request.request;
  after(ctx, res, ctx.latencyMs + fault.latencyMs, () => {
    if (action.kind === 'none') {
      ctx.stats.recordSuccess(reply, stream);
      if (stream) sendStream(res, messageStreamEvents(reply), 'end', headers, ctx);
      else sendJson(res, 200, messageBody(reply), headers);
    } else if (stream) {
      sendBrokenStream(res, reply, action, headers, requestId, ctx);
    } else if (action.kind === 'drop' && action.plain === 'mid-response') {
      ctx.stats.recordOutcome('dropped');
      sendHalfThenDrop(res, reply, headers);
    } else {
      answerPlainly(action, req, res, ctx, fail);
    }
  });
}

/** An injected error, hang or drop before any byte, as a plain (not streamed) answer. */
function answerPlainly(
  action: InjectedAction,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: MessagesContext,
  fail: (reply: ApiErrorReply) => void,
): void {
  switch (action.kind) {
    case 'error':
      fail(injectedError(action));
      return;
    case 'hang':
      ctx.stats.recordOutcome('hung');
      hold(res, ctx);
      return;
    case 'drop':
      ctx.stats.recordOutcome('dropped');
      req.socket.destroy();
      return;
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
  events: readonly string[],
  ending: StreamEnding,
  headers: OutgoingHttpHeaders,
  ctx: MessagesContext,
): void {
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  playStream(res, paceStream(events, ctx.pacing, ctx.pacingRandom), ending, ctx.clock);
}

const STREAM_ERROR_OUTCOME: Readonly<Record<StreamPoint, Outcome>> = {
  'before-content': 'stream_error_before_content',
  'after-content': 'stream_error_after_content',
};

/** A 200 stream, paced as usual, up to the fault's point; then an error event, a stall or a cut. */
function sendBrokenStream(
  res: ServerResponse,
  reply: Reply,
  action: InStreamAction,
  headers: OutgoingHttpHeaders,
  requestId: string,
  ctx: MessagesContext,
): void {
  const events = messageStreamEvents(reply);
  const sent = events.slice(0, eventsBeforeFault(events, action.inStream));
  switch (action.kind) {
    case 'error': {
      ctx.stats.recordOutcome(STREAM_ERROR_OUTCOME[action.inStream]);
      const error = errorObject(injectedError(action), requestId);
      sendStream(res, [...sent, encodeSseEvent('error', error)], 'end', headers, ctx);
      return;
    }
    case 'hang':
      ctx.stats.recordOutcome('stream_stalled');
      hold(res, ctx);
      sendStream(res, sent, 'stall', headers, ctx);
      return;
    case 'drop':
      ctx.stats.recordOutcome('stream_dropped');
      sendStream(res, sent, 'drop', headers, ctx);
      return;
  }
}

/** Status, headers and half of a plain body, then a cut connection. */
function sendHalfThenDrop(res: ServerResponse, reply: Reply, headers: OutgoingHttpHeaders): void {
  const body = Buffer.from(messageBody(reply));
  res.writeHead(200, {
    ...headers,
    'content-type': 'application/json',
    'content-length': body.length,
  });
  // Cut once the half has left, so that the client reads it before the connection ends.
  res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
    res.destroy();
  });
}

/** Holds a response open until the client gives up; shutdown cuts it. */
function hold(res: ServerResponse, ctx: MessagesContext): void {
  ctx.hanging.add(res);
  res.on('close', () => ctx.hanging.delete(res));
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
