/**
 * `POST /v1/messages`: the Messages API, plain and streaming, through the guard. A streamed
 * answer is passed to the caller chunk by chunk as it arrives, while its usage is read on
 * the way past and settled against the token budgets when the stream ends.
 */
import { finished } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientFingerprint } from '../audit/auditLog.ts';
import { cacheKey } from '../cache/responseCache.ts';
import { SseUsageTap, type Usage } from '../provider/sseUsage.ts';
import type { RoutedResponse } from '../provider/modelRouter.ts';
import { tracingActive, withAttemptSpan } from '../telemetry/tracing.ts';
import { badRequest, errorBody, mapFailure, sendError } from './errorReplies.ts';
import { checkMessagesBody } from './messagesValidation.ts';
import { passGate, presentedKey } from './requestGate.ts';
import { beginCall, failCall, refusedAsInjection, type CallSubject } from './routeCall.ts';
import type { ActivePolicy, RuntimeContext } from './runtimeContext.ts';

const ROUTE = '/v1/messages';

export function registerMessagesRoute(app: FastifyInstance, ctx: RuntimeContext): void {
  app.post(ROUTE, (request, reply) => handle(ctx, request, reply));
}

/** Model chain: the requested model, then the policy's fallbacks, each once. */
export function modelChain(requested: string, active: ActivePolicy): string[] {
  const chain = [requested];
  for (const m of active.doc.model.fallbacks) if (!chain.includes(m)) chain.push(m);
  return chain;
}

/** A rough input-token estimate for admission: about four characters a token. */
export function estimateInputTokens(rawLength: number): number {
  return Math.max(1, Math.ceil(rawLength / 4));
}

async function handle(
  ctx: RuntimeContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const active = passGate(ctx, request, reply);
  if (active === undefined) return;
  const started = ctx.clock.now();
  const checked = checkMessagesBody(request.body);
  if (!checked.ok) {
    ctx.metrics.requestsFailed.inc({
      route: ROUTE,
      model: '',
      status: '400',
      error_type: 'invalid_request_error',
    });
    sendError(reply, badRequest(checked.message));
    return;
  }
  const body = checked.body;
  const model = body.model as string;
  ctx.metrics.requests.inc({ route: ROUTE, model });
  // For audit records only, which are written only when the policy asks (security incidents
  // always): neither the fingerprint (a SHA-256) nor the event is built otherwise.
  const client = () => clientFingerprint(presentedKey(request));

  const subject: CallSubject = { route: ROUTE, model, client };
  if (refusedAsInjection(ctx, active, request, reply, subject, body.messages)) return;

  const key = active.doc.cache.enabled ? cacheKey(body) : undefined;
  if (key !== undefined) {
    const hit = ctx.cache.get(key);
    ctx.metrics.cacheRequests.inc({ result: hit === undefined ? 'miss' : 'hit' });
    if (hit !== undefined) {
      reply
        .code(200)
        .header('content-type', 'application/json')
        .header('x-breakwater-cache', 'hit')
        .send(hit.value);
      if (ctx.audit.enabled)
        ctx.audit.record({
          event: 'model_interaction',
          requestId: request.id,
          route: ROUTE,
          client: client(),
          model,
          servedBy: hit.model,
          fallbackUsed: false,
          status: 200,
          inputTokens: 0,
          outputTokens: 0,
          durationMs: ctx.clock.now() - started,
          cached: true,
        });
      return;
    }
  }

  const call = beginCall(ctx, request, reply, 'POST /v1/messages', {
    'gen_ai.request.model': model,
  });
  const { traced } = call;
  let status = 500;
  let failure: unknown;
  let routed: RoutedResponse | undefined;
  try {
    const rawLength = Number(request.headers['content-length'] ?? 0) || JSON.stringify(body).length;
    const estimate = {
      inputTokens: estimateInputTokens(rawLength),
      outputTokens: body.max_tokens as number,
    };
    routed = await ctx.router.send({
      via: 'forward',
      body,
      rawBody: request.rawBody,
      stream: body.stream === true,
      models: modelChain(model, active),
      signal: call.signal,
      estimate,
      headers: withCallerVersion(request.headers, traced.outgoing),
      wrapAttempt: tracingActive()
        ? (info, run) =>
            withAttemptSpan(
              traced,
              {
                model: info.model,
                backend: info.backend.name,
                attempt: info.attempt,
                breakerState: active.guard.permits(info.backend.name, info.model)
                  ? 'allowing'
                  : 'open',
              },
              run,
            )
        : undefined,
    });
    if (routed.fallbackUsed) ctx.metrics.fallbacks.inc({ from: model, to: routed.model });
    let usage: Usage;
    if (routed.kind === 'plain') {
      status = routed.status;
      usage = routed.usage;
      sendAnswer(reply, status, routed.text, request.id);
      if (key !== undefined && status === 200) ctx.cache.set(key, routed.text, routed.model);
    } else {
      status = routed.status;
      usage = await pipeStream(reply, routed, request.id, call.signal, () => ctx.clock.now());
      active.guard.settleLate(estimate, usage);
    }
    ctx.metrics.llmTokens.observe({ model: routed.model, direction: 'input' }, usage.input_tokens);
    ctx.metrics.llmTokens.observe(
      { model: routed.model, direction: 'output' },
      usage.output_tokens,
    );
    ctx.stats.record('model', routed.model, ctx.clock.now() - started);
    if (ctx.audit.enabled)
      ctx.audit.record({
        event: 'model_interaction',
        requestId: request.id,
        route: ROUTE,
        client: client(),
        model,
        servedBy: routed.model,
        fallbackUsed: routed.fallbackUsed,
        status,
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
        durationMs: ctx.clock.now() - started,
      });
  } catch (err) {
    failure = err;
    status = failCall(ctx, request, reply, call, subject, err);
  } finally {
    call.end(status, failure);
  }
}

/**
 * The provider's answer, written straight to the socket: the body is the provider's JSON as
 * it came, so fastify's serialization and send hooks (none are registered) have nothing to
 * do, and skipping them is a measurable share of the pass-through's cost.
 */
function sendAnswer(reply: FastifyReply, status: number, text: string, requestId: string): void {
  reply.hijack();
  reply.raw.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': requestId,
  });
  reply.raw.end(text);
}

/** The caller's `anthropic-version` and `anthropic-beta` go to the provider with the trace context. */
function withCallerVersion(
  incoming: FastifyRequest['headers'],
  outgoing: Record<string, string>,
): Record<string, string> {
  const version = incoming['anthropic-version'];
  const beta = incoming['anthropic-beta'];
  if (typeof version === 'string') outgoing['anthropic-version'] = version;
  if (typeof beta === 'string') outgoing['anthropic-beta'] = beta;
  return outgoing;
}

/** Streams the provider's events to the caller as they come; resolves with the usage seen. */
function pipeStream(
  reply: FastifyReply,
  routed: Extract<RoutedResponse, { kind: 'stream' }>,
  requestId: string,
  signal: AbortSignal,
  now: () => number,
): Promise<Usage> {
  const tap = new SseUsageTap();
  reply.hijack();
  const res = reply.raw;
  res.writeHead(routed.status, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': requestId,
  });
  const source = routed.body;
  return new Promise<Usage>((resolve) => {
    const cancel = () => {
      source.destroy();
    };
    const resume = () => {
      source.resume();
    };
    signal.addEventListener('abort', cancel, { once: true });
    // Chunks that arrive together leave in one write: the response is corked until the
    // event loop has handled what the last read brought (setImmediate runs right after), so a
    // stream that came in one read goes out with its final chunk in one syscall, and a stream
    // that trickles in still goes out as it comes.
    let corked = false;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      res.uncork();
    };
    source.on('data', (chunk: Buffer) => {
      tap.push(chunk);
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(uncork);
      }
      if (!res.write(chunk)) {
        source.pause();
        res.once('drain', resume);
      }
    });
    finished(source, (err) => {
      // Flush what the cork holds before anything else is written: end() writes the
      // chunked terminator first and the corked chunks after it, which cuts the stream off.
      uncork();
      // The provider cut the stream: tell the caller in the stream's own terms.
      if (err !== undefined && err !== null && !signal.aborted)
        res.write(`event: error\ndata: ${errorBody(mapFailure(err, now()))}\n\n`);
      signal.removeEventListener('abort', cancel);
      res.off('drain', resume);
      routed.done();
      res.end();
      resolve(tap.usage);
    });
  });
}
