/**
 * A Messages request in any provider's wire format (`POST /v1/messages`, Bedrock's
 * `InvokeModel*`, Vertex's `rawPredict`/`streamRawPredict`), in this order: credentials →
 * injected fault → JSON and field validation → the planned reply → rate-limit budget (the
 * Anthropic API only) → base latency → the answer, plain or streamed.
 * Faults come before validation, as an overloaded provider refuses before reading the body;
 * a fault inside a stream (`inStream`) needs the planned reply, so it strikes as the answer
 * begins.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Clock } from '../../platform/src/time/clock.ts';
import type { ApiErrorReply } from './anthropicError.ts';
import type { FaultInjector } from './faultInjector.ts';
import {
  isInStream,
  type FaultAction,
  type InjectedAction,
  type InStreamAction,
  type StreamPoint,
} from './faultSpec.ts';
import { sendJson } from './httpReplies.ts';
import type { NewId } from './ids.ts';
import { wireUsage } from './messageBody.ts';
import type { ReadResult } from './messagesBody.ts';
import type { RateLimitBudget } from './rateLimitBudget.ts';
import { planReply, withCacheUsage, type Reply } from './replyPlan.ts';
import type { PromptCache } from './promptCache.ts';
import type { Random } from '../../platform/src/random/random.ts';
import type { Outcome, RequestRecorder, SimulatorStats } from './simulatorStats.ts';
import {
  generatedUsage,
  traceIdOf,
  type BilledEnding,
  type BilledUsageLog,
} from './billedUsage.ts';
import type { StreamEvent } from './sseEncoding.ts';
import { eventsBeforeFault, streamEventData } from './sseEncoding.ts';
import { paceStream, type StreamPacing } from './streamPacing.ts';
import { playStream, type StreamEnding } from './streamPlayback.ts';
import type { Refusal, WireDialect } from './wireDialect.ts';

export interface MessagesContext {
  readonly clock: Clock;
  readonly promptCache: PromptCache;
  readonly newId: NewId;
  readonly faults: FaultInjector;
  readonly budget: RateLimitBudget;
  readonly stats: SimulatorStats;
  /** What each call was billed (`GET /_sim/usage`). */
  readonly billed: BilledUsageLog;
  /** Base latency before every successful answer. */
  readonly latencyMs: number;
  readonly pacing: StreamPacing;
  /** Draws the pauses and cuts of streams, apart from fault rolls and ids. */
  readonly pacingRandom: Random;
  readonly apiKey: string | undefined;
  /** Responses held by a `hang` fault (a stall in a stream too), so that shutdown can cut them. */
  readonly hanging: Set<ServerResponse>;
  /** Input tokens each web search's results are billed at. */
  readonly searchResultTokens: number;
}

/** One Messages request in some provider's wire format, as its route read it. */
export interface MessagesCall {
  /** Whose prompt cache the call reads and writes: the API key, AWS key and region, or project. */
  readonly account: string;
  readonly dialect: WireDialect;
  readonly requestId: string;
  /** Set when the credentials are refused: answered before any fault is rolled. */
  readonly refusal: Refusal | undefined;
  /** The model faults with `model` target, read ahead of validation. */
  requestedModel(): string | undefined;
  /** The validated request, or the error that refuses it. */
  readRequest(): ReadResult;
}

export function handleMessages(
  req: IncomingMessage,
  res: ServerResponse,
  call: MessagesCall,
  ctx: MessagesContext,
): void {
  const { dialect, requestId, refusal } = call;
  const stats = ctx.stats.forProvider(dialect.provider);
  stats.recordRequest();
  const fail = (reply: ApiErrorReply, headers?: OutgoingHttpHeaders) => {
    stats.recordOutcome(`error_${dialect.statusOf(reply)}`);
    dialect.sendError(res, reply, requestId, headers);
  };

  if (refusal !== undefined) {
    stats.recordOutcome(`error_${refusal.status}`);
    refusal.send(res);
    return;
  }

  const model = ctx.faults.needsModel ? call.requestedModel() : undefined;
  const fault = ctx.faults.decide(model, dialect.provider);
  const { action } = fault;
  // An in-stream fault needs a valid request and its planned reply; any other decides now.
  if (action.kind !== 'none' && !isInStream(action)) {
    after(ctx, stats, res, fault.latencyMs, () => {
      answerPlainly(action, req, res, ctx, stats, fail);
    });
    return;
  }

  const request = call.readRequest();
  if (!request.ok) {
    fail(request.error);
    return;
  }
  const planned = planReply(request.request, ctx.newId, ctx.searchResultTokens);
  const { stream } = request.request;
  let headers: OutgoingHttpHeaders = {};
  if (dialect.budgeted) {
    const admission = ctx.budget.admit(planned);
    if (!admission.admitted) {
      const { exceeded, limit, retryAfterSeconds } = admission;
      const message = `Rate limit exceeded: ${limit} ${exceeded.replace('-', ' ')} per minute (simulated budget)`;
      fail(
        { status: 429, type: 'rate_limit_error', message, retryAfterSeconds },
        admission.headers,
      );
      return;
    }
    headers = admission.headers;
  }
  // Admitted: the answer begins, and with it the prompt cache is read and written.
  const reply = withCacheUsage(
    planned,
    ctx.promptCache.serve(
      call.account,
      planned.model,
      request.request.segments,
      planned.inputTokens,
    ),
  );
  headers = { ...headers, ...dialect.successHeaders(reply, requestId, stream) };
  const traceId = traceIdOf(req.headers.traceparent);
  const bill = (ending: BilledEnding, events?: readonly StreamEvent[], generated?: number) => {
    ctx.billed.record({
      requestId,
      ...(traceId === undefined ? {} : { traceId }),
      provider: dialect.provider,
      model: reply.model,
      stream,
      ending,
      usage:
        events === undefined || generated === undefined
          ? wireUsage(reply, reply.outputTokens)
          : generatedUsage(reply, events, generated),
    });
  };
  const playback: Playback = { res, dialect, headers, ctx, bill };
  const answered = () => {
    if (action.kind === 'none') {
      stats.recordSuccess(reply, stream);
      if (stream) sendStream(playback, streamEventData(reply), reply, 'end');
      else {
        bill('complete');
        sendJson(res, 200, dialect.plainBody(reply), headers);
      }
    } else if (stream) {
      sendBrokenStream(playback, reply, action, requestId, stats);
    } else if (action.kind === 'drop' && action.plain === 'mid-response') {
      stats.recordOutcome('dropped');
      bill('provider_cut');
      sendHalfThenDrop(res, dialect.plainBody(reply), headers);
    } else {
      answerPlainly(action, req, res, ctx, stats, fail);
    }
  };
  // A caller that leaves while the answer is being made: a plain answer is generated (and
  // billed) in full all the same; a stream is billed its input, nothing generated yet.
  const left = () => {
    if (action.kind !== 'none') return;
    if (stream) bill('client_cut', streamEventData(reply), 0);
    else bill('client_left');
  };
  after(ctx, stats, res, ctx.latencyMs + fault.latencyMs, answered, left);
}

/** An injected error, hang or drop before any byte, as a plain (not streamed) answer. */
function answerPlainly(
  action: InjectedAction,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: MessagesContext,
  stats: RequestRecorder,
  fail: (reply: ApiErrorReply) => void,
): void {
  switch (action.kind) {
    case 'error':
      fail(injectedError(action));
      return;
    case 'hang':
      stats.recordOutcome('hung');
      hold(res, ctx);
      return;
    case 'drop':
      stats.recordOutcome('dropped');
      req.socket.destroy();
      return;
  }
}

/** Where and how a streamed answer is played. */
interface Playback {
  readonly res: ServerResponse;
  readonly dialect: WireDialect;
  readonly headers: OutgoingHttpHeaders;
  readonly ctx: MessagesContext;
  /** Records what the call is billed: in full, or for the first `generated` of `events`. */
  readonly bill: (
    ending: BilledEnding,
    events?: readonly StreamEvent[],
    generated?: number,
  ) => void;
}

/**
 * Plays `events` (an answer's stream, or its first part before a fault, then `extra`: the
 * fault's error event) and bills what was generated of the `whole` stream: every event
 * written once the last is, or those whose first byte left before the client went away.
 */
function sendStream(
  { res, dialect, headers, ctx, bill }: Playback,
  events: readonly StreamEvent[],
  reply: Reply,
  ending: StreamEnding,
  extra: readonly (string | Uint8Array)[] = [],
  whole: readonly StreamEvent[] = events,
): void {
  res.writeHead(200, { ...headers, ...dialect.streamHeaders });
  const encoded = [...dialect.encodeEvents(events, reply), ...extra];
  const writes = paceStream(encoded, ctx.pacing, ctx.pacingRandom, dialect.cutPoint);
  const complete = ending === 'end' && extra.length === 0;
  playStream(res, writes, ending, ctx.clock, (bytes, cut) => {
    if (!cut) {
      bill(complete ? 'complete' : 'provider_cut', whole, events.length);
      return;
    }
    let generated = 0;
    let start = 0;
    for (const event of encoded.slice(0, events.length)) {
      if (start >= bytes) break;
      generated++;
      start += Buffer.byteLength(event);
    }
    bill('client_cut', whole, generated);
  });
}

const STREAM_ERROR_OUTCOME: Readonly<Record<StreamPoint, Outcome>> = {
  'before-content': 'stream_error_before_content',
  'after-content': 'stream_error_after_content',
};

/** A 200 stream, paced as usual, up to the fault's point; then an error event, a stall or a cut. */
function sendBrokenStream(
  playback: Playback,
  reply: Reply,
  action: InStreamAction,
  requestId: string,
  stats: RequestRecorder,
): void {
  const { dialect, res, ctx } = playback;
  const events = streamEventData(reply);
  const sent = events.slice(0, eventsBeforeFault(events, action.inStream));
  switch (action.kind) {
    case 'error': {
      stats.recordOutcome(STREAM_ERROR_OUTCOME[action.inStream]);
      const error = dialect.encodeStreamError(injectedError(action), requestId);
      sendStream(playback, sent, reply, 'end', [error], events);
      return;
    }
    case 'hang':
      stats.recordOutcome('stream_stalled');
      hold(res, ctx);
      sendStream(playback, sent, reply, 'stall', [], events);
      return;
    case 'drop':
      stats.recordOutcome('stream_dropped');
      sendStream(playback, sent, reply, 'drop', [], events);
      return;
  }
}

/** Status, headers and half of a plain body, then a cut connection. */
function sendHalfThenDrop(
  res: ServerResponse,
  plainBody: string,
  headers: OutgoingHttpHeaders,
): void {
  const body = Buffer.from(plainBody);
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
function after(
  ctx: MessagesContext,
  stats: RequestRecorder,
  res: ServerResponse,
  ms: number,
  answer: () => void,
  left: () => void = () => undefined,
): void {
  if (ms <= 0) {
    answer();
    return;
  }
  const onClose = () => {
    cancel();
    stats.recordOutcome('client_closed');
    left();
  };
  const cancel = ctx.clock.setTimeout(() => {
    res.off('close', onClose);
    answer();
  }, ms);
  res.once('close', onClose);
}
