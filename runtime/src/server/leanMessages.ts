/**
 * The lean way through `POST /v1/messages`, for a policy whose plan (messagesPlan.ts, chosen
 * when the policy is applied) says it uses none of the optional features and has one backend.
 * A call that names no durable run, asks for a model the backend serves and finds its breaker
 * not refusing goes from the checked body straight to the model's guard (`Guard.execute`:
 * breaker, rate limiter, bulkhead, timeout, retry, as on the long way) and one attempt on the
 * backend's wire, and back: no router (`send`, `#route`, the pin lookup, `callModel`, the
 * backend picker and the failover closures), no budget request, no cache, audit or durable
 * step. The call's bookkeeping and its `chat {model}` span (with tracing on) are the long way's
 * own (`beginCall`, `attemptsOnSpan`), so a traced call is served here too and its span is the
 * same. A failure a fallback model may help goes on in the router with the fallbacks, which
 * counts, answers and tallies them as the long way would. Any other call goes the long way
 * from the start (messagesRoute.ts); test/runtime/leanRoute.test.ts holds the two to the same
 * answers, metrics and spans.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import { SpanKind } from '@opentelemetry/api';
import type { Guard } from '../guard/guard.ts';
import type { Backend } from '../provider/backendPool.ts';
import { ModelAttempt } from '../guard/guardSet/modelAttempt.ts';
import type { AttemptRequest, RoutedResponse } from '../provider/providerAttempt.ts';
import { fallbackMayHelp } from '../provider/modelRouter.ts';
import { chatSpanName } from '../telemetry/genAiConventions.ts';
import { relayChatAttributes } from '../telemetry/tracing.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import { CallerStream } from './callerStream.ts';
import {
  attemptsOnSpan,
  estimateInputTokens,
  MESSAGES_ROUTE,
  modelChain,
  sendAnswer,
  withCallerVersion,
} from './messagesAnswer.ts';
import type { LeanPlan } from './messagesPlan.ts';
import { beginCall, failCall, type CallNeeds, type CallSubject } from './routeCall.ts';
import { RUN_ID_HEADER } from './runHeaders.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** What the lean path reads of the runtime: the router, and what any call's bookkeeping reads. */
export type LeanNeeds = Pick<RuntimeContext, 'router'> & CallNeeds;

/** No audit record on this path (the plan has no audit log): no caller fingerprint is needed. */
const NO_CLIENT = (): undefined => undefined;

/**
 * Serves the call the lean way and returns its promise, or returns undefined (having done
 * nothing) when this call needs the long way.
 */
export function leanMessages(
  ctx: LeanNeeds,
  plan: LeanPlan,
  active: ActivePolicy,
  request: RouteRequest,
  reply: RouteReply,
  body: Record<string, unknown>,
  defaulted: boolean,
  started: number,
): Promise<void> | undefined {
  if (request.headers[RUN_ID_HEADER] !== undefined) return undefined;
  const model = body.model as string;
  // Read per call: a client-key Secret read later may rebuild the backend (agentRuntime.ts).
  const backend = ctx.router.soleBackend(model);
  if (backend === undefined) return undefined;
  const guard = plan.guardOf(model);
  if (guard === undefined || guard.target.breaker.isRejecting(ctx.clock.now())) return undefined;
  plan.served++;
  return run(ctx, active, guard, backend, request, reply, body, defaulted, started);
}

async function run(
  ctx: LeanNeeds,
  active: ActivePolicy,
  guard: Guard,
  backend: Backend,
  request: RouteRequest,
  reply: RouteReply,
  body: Record<string, unknown>,
  defaulted: boolean,
  started: number,
): Promise<void> {
  const model = body.model as string;
  const maxTokens = body.max_tokens as number;
  // One span a call, as the long way's: the conventions' `chat {model}` (tracing.ts).
  const call = beginCall(
    ctx,
    request,
    reply,
    chatSpanName(model),
    relayChatAttributes(model, maxTokens),
    SpanKind.CLIENT,
  );
  const { signal, traced } = call;
  let status = 500;
  let failure: unknown;
  const stream = body.stream === true ? new CallerStream(reply, request.id) : undefined;
  const headers = request.headers;
  const rawLength = Number(headers['content-length'] ?? 0) || JSON.stringify(body).length;
  const estimate = { inputTokens: estimateInputTokens(rawLength), outputTokens: maxTokens };
  const options: AttemptRequest = {
    via: 'forward',
    body,
    rawBody: defaulted ? undefined : request.rawBody,
    stream: stream !== undefined,
    sink: stream,
    headers: withCallerVersion(headers, traced.outgoing),
    signal,
  };
  const wrap = attemptsOnSpan(traced, active, maxTokens);
  const router = ctx.router;
  try {
    let routed: RoutedResponse;
    try {
      routed = await guard.execute(
        (a) => {
          const info = new ModelAttempt(a, model, backend);
          return wrap === undefined
            ? router.attempt(info, options)
            : wrap(info, () => router.attempt(info, options));
        },
        { signal, estimate },
      );
      router.served(routed);
    } catch (err) {
      const chain = modelChain(model, active);
      if (
        chain.length < 2 ||
        signal.aborted ||
        stream?.committed === true ||
        !fallbackMayHelp(err, ctx.clock.now())
      )
        throw err;
      // The fallbacks, the long way: counted, tallied and answered as there.
      routed = await router.send({
        ...options,
        models: chain.slice(1),
        signal,
        estimate,
        fallbackAfter: err,
        wrapAttempt: wrap,
      });
    }
    if (routed.fallbackUsed) ctx.metrics.fallbacks.inc({ from: model, to: routed.model });
    status = routed.status;
    if (routed.kind === 'plain') {
      if (signal.aborted) reply.hijack();
      else sendAnswer(reply, status, routed.text, request.id, routed.backend);
    } else {
      stream?.end();
    }
    const took = ctx.clock.now() - started;
    ctx.stats.record('model', routed.model, took, { fallback: routed.fallbackUsed });
    ctx.stats.record('backend', routed.backend, took);
  } catch (err) {
    failure = err;
    const subject: CallSubject = { route: MESSAGES_ROUTE, model, client: NO_CLIENT };
    status = failCall(ctx, request, reply, call, subject, err, stream);
  } finally {
    call.end(status, failure);
  }
}
