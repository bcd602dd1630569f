/**
 * `POST /v1/messages`: the Messages API, plain and streaming, through the guard. A streamed
 * answer is relayed to the caller event by event as it arrives (provider/streamRelay.ts);
 * its outcome, usage and bulkhead slot are settled when it ends.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import type { FastifyInstance } from 'fastify';
import { cacheKey } from '../cache/responseCache.ts';
import { beginModelStep } from './durableMessages.ts';
import type { RoutedResponse } from '../provider/providerAttempt.ts';
import { SpanKind } from '@opentelemetry/api';
import { chatSpanName } from '../telemetry/genAiConventions.ts';
import { recordCachedCall, relayChatAttributes } from '../telemetry/tracing.ts';
import { CallerStream } from './callerStream.ts';
import { budgetRequest } from '../budget/budgets.ts';
import { checkMessagesBody, type MessagesCheck } from './messagesValidation.ts';
import { countAs } from './requestCounts.ts';
import { passGate, type Admitted } from './requestGate.ts';
import { leanMessages } from './leanMessages.ts';
import {
  beginCall,
  failCall,
  refuseBody,
  refusedAsInjection,
  type CallSubject,
} from './routeCall.ts';
import {
  attemptsOnSpan,
  estimateInputTokens,
  MESSAGES_ROUTE,
  modelChain,
  sendAnswer,
  withCallerVersion,
  type MessagesNeeds,
} from './messagesAnswer.ts';

export { estimateInputTokens, MESSAGES_ROUTE, modelChain, type MessagesNeeds };

export const COUNT_TOKENS_ROUTE = '/v1/messages/count_tokens';
const ROUTE = MESSAGES_ROUTE;

export function registerMessagesRoute(app: FastifyInstance, ctx: MessagesNeeds): void {
  app.post(ROUTE, (request, reply) => handleMessages(ctx, request, reply));
  app.post(COUNT_TOKENS_ROUTE, (request, reply) => countTokens(ctx, request, reply));
}

/** A call of the route: through fastify, or ahead of it under a lean plan (frontMessages.ts). */
export function handleMessages(
  ctx: MessagesNeeds,
  request: RouteRequest,
  reply: RouteReply,
): Promise<void> | undefined {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return undefined;
  const { active } = admitted;
  const started = ctx.clock.now();
  const checked = checkMessagesBody(request.body, { defaultMaxTokens: active.doc.model.maxTokens });
  if (!checked.ok) {
    refuseBody(reply, checked.message);
    return undefined;
  }
  countAs(request, checked.body.model as string);
  // The plan chosen when the policy was applied (messagesPlan.ts): a policy without the
  // optional features serves its calls on the lean path, but for what a call itself asks.
  const plan = active.messages;
  const lean =
    plan.way === 'lean'
      ? leanMessages(ctx, plan, active, request, reply, checked.body, checked.defaulted, started)
      : undefined;
  return lean ?? longWay(ctx, request, reply, admitted, checked, started);
}

type CheckedBody = Extract<MessagesCheck, { ok: true }>;

/** The long way reads all the route does but the gate's own (the keys, the policy in force). */
type LongWayNeeds = Omit<MessagesNeeds, 'active' | 'clientKeys'>;

async function longWay(
  ctx: LongWayNeeds,
  request: RouteRequest,
  reply: RouteReply,
  { active, caller }: Admitted,
  checked: CheckedBody,
  started: number,
): Promise<void> {
  const body = checked.body;
  const model = body.model as string;
  const client = () => caller.fingerprint;

  const subject: CallSubject = { route: ROUTE, model, client };
  if (refusedAsInjection(ctx, active, request, reply, subject, body.messages)) return;
  // A durable run's call: answered from its journal, or journaled (server/durableMessages.ts).
  const step = beginModelStep(ctx, active, caller, request, reply, body);
  const durable = step instanceof Promise ? await step : step;
  if (durable === 'answered') return;

  const key = durable === undefined && active.doc.cache.enabled ? cacheKey(body) : undefined;
  if (key !== undefined) {
    const hit = ctx.cache.get(key);
    ctx.metrics.cacheRequests.inc({ result: hit === undefined ? 'miss' : 'hit' });
    if (hit !== undefined) {
      recordCachedCall(request.headers, model, hit.model);
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

  // One span a call: the conventions' `chat {model}`, its attempts recorded on it (tracing.ts).
  const call = beginCall(
    ctx,
    request,
    reply,
    chatSpanName(model),
    relayChatAttributes(model, body.max_tokens as number),
    SpanKind.CLIENT,
  );
  const { traced } = call;
  let status = 500;
  let failure: unknown;
  let routed: RoutedResponse | undefined;
  const stream = body.stream === true ? new CallerStream(reply, request.id) : undefined;
  if (durable !== undefined) stream?.record();
  try {
    const rawLength = Number(request.headers['content-length'] ?? 0) || JSON.stringify(body).length;
    const estimate = {
      inputTokens: estimateInputTokens(rawLength),
      outputTokens: body.max_tokens as number,
    };
    // `body` is the request's text parsed (with its defaults when they were filled in).
    const priced = budgetRequest(
      active.doc,
      client,
      checked.defaulted || request.rawBody === '' ? JSON.stringify(body) : request.rawBody,
      undefined,
      body,
    );
    // Named in the audit's budget records, beside the interaction's.
    const budget = priced && { ...priced, requestId: request.id };
    routed = await ctx.router.send({
      via: 'forward',
      body,
      ...(checked.defaulted ? {} : { rawBody: request.rawBody }),
      stream: stream !== undefined,
      ...(stream === undefined ? {} : { sink: stream }),
      models: modelChain(model, active),
      signal: call.signal,
      estimate,
      ...(budget === undefined ? {} : { budget }),
      headers: withCallerVersion(request.headers, traced.outgoing),
      ...sessionOf(request.headers),
      wrapAttempt: attemptsOnSpan(traced, active, body.max_tokens as number),
    });
    if (routed.fallbackUsed) ctx.metrics.fallbacks.inc({ from: model, to: routed.model });
    status = routed.status;
    const usage = routed.usage;
    // Not `await durable?.settle(…)`: awaiting undefined still costs every call a microtask turn.
    if (durable !== undefined) await durable.settle(routed, stream);
    if (routed.kind === 'plain') {
      // A caller that left while its answer was read to its end (under a budget) gets nothing.
      if (call.signal.aborted) reply.hijack();
      else
        sendAnswer(reply, status, routed.text, request.id, routed.backend, routed.budgetFallback);
      // An answer a budget sent to a cheaper model is not the answer to this request's model.
      if (key !== undefined && status === 200 && routed.budgetFallback === undefined)
        ctx.cache.set(key, routed.text, routed.model);
    } else {
      stream?.end();
    }
    const took = ctx.clock.now() - started;
    ctx.stats.record('model', routed.model, took, { fallback: routed.fallbackUsed });
    ctx.stats.record('backend', routed.backend, took);
    if (ctx.audit.enabled)
      ctx.audit.record({
        event: 'model_interaction',
        requestId: request.id,
        route: ROUTE,
        client: client(),
        model,
        servedBy: routed.model,
        backend: routed.backend,
        fallbackUsed: routed.fallbackUsed,
        status,
        inputTokens: usage.input_tokens,
        outputTokens: usage.output_tokens,
        durationMs: ctx.clock.now() - started,
      });
  } catch (err) {
    failure = err;
    await durable?.abandon();
    status = failCall(ctx, request, reply, call, subject, err, stream);
  } finally {
    call.end(status, failure);
  }
}

/**
 * `POST /v1/messages/count_tokens`, passed through under the guard of the model it names
 * (its breaker, the rate limiter's request bucket, the retry policy; no fallback, since
 * another model counts differently, and no token budget, since counting spends none).
 */
async function countTokens(
  ctx: Omit<MessagesNeeds, 'cache' | 'durable' | 'durableMetrics'>,
  request: RouteRequest,
  reply: RouteReply,
): Promise<void> {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return;
  const { caller } = admitted;
  const checked = checkMessagesBody(request.body, { countTokens: true });
  if (!checked.ok) {
    refuseBody(reply, checked.message);
    return;
  }
  const model = checked.body.model as string;
  countAs(request, model);
  const subject: CallSubject = {
    route: COUNT_TOKENS_ROUTE,
    model,
    client: () => caller.fingerprint,
  };
  const call = beginCall(ctx, request, reply, 'POST /v1/messages/count_tokens', {
    'gen_ai.request.model': model,
  });
  let status = 500;
  let failure: unknown;
  try {
    const routed = await ctx.router.send({
      via: 'forward',
      endpoint: 'count_tokens',
      body: checked.body,
      rawBody: request.rawBody,
      stream: false,
      models: [model],
      signal: call.signal,
      headers: withCallerVersion(request.headers, call.traced.outgoing),
    });
    status = routed.status;
    if (routed.kind === 'plain') sendAnswer(reply, status, routed.text, request.id, routed.backend);
  } catch (err) {
    failure = err;
    status = failCall(ctx, request, reply, call, subject, err);
  } finally {
    call.end(status, failure);
  }
}

/** The caller's conversation (`x-breakwater-session`), which keys its prompt-cache affinity. */
function sessionOf(headers: RouteRequest['headers']): { session?: string } {
  const session = headers[SESSION_HEADER];
  return typeof session === 'string' && session !== '' ? { session: session.slice(0, 256) } : {};
}

export const SESSION_HEADER = 'x-breakwater-session';
