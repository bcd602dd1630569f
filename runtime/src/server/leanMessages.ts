/**
 * PROTOTYPE (task hot60, issue 53; branch `lean-route`, not for main as it is): a lean
 * `/v1/messages` path for a policy that uses none of the optional features, to measure what
 * fewer layers per call would save.
 *
 * Decided once per policy in force (`leanPlan`, kept with the ActivePolicy object, which a
 * reload replaces whole): no response cache, no audit log, no prompt-injection screen, no
 * budgets, one backend. Then, per call, when no tracing SDK is on, the call names no durable
 * run, the one backend serves the requested model and its breaker is not refusing, the call
 * goes from the parsed body straight to the model's guard (`Guard.execute`: breaker, rate
 * limiter, bulkhead, timeout, retry, as before) and one attempt on the backend's wire, and
 * back: no router (`send`, `#route`, the pin lookup, `callModel`, the backend picker and the
 * failover closures), no request span, no budget request, no attempt wrapper. A call that
 * fails so that a fallback model may help continues in the router with the fallback models,
 * which counts, answers and tallies it as the long way would; any other call goes the long way
 * from the start (messagesRoute.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Guard } from '../guard/guard.ts';
import type { Backend } from '../provider/backendPool.ts';
import { ModelAttempt } from '../guard/guardSet/modelAttempt.ts';
import { watchableAbortController } from '../provider/abortWatch.ts';
import type { AttemptRequest, RoutedResponse } from '../provider/providerAttempt.ts';
import { fallbackMayHelp } from '../provider/modelRouter.ts';
import { tracingActive } from '../telemetry/tracing.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import { CallerStream } from './callerStream.ts';
import {
  estimateInputTokens,
  MESSAGES_ROUTE,
  modelChain,
  sendAnswer,
  withCallerVersion,
  type MessagesNeeds,
} from './messagesAnswer.ts';
import { failCall, type CallSubject } from './routeCall.ts';
import { RUN_ID_HEADER } from './runHeaders.ts';

/** What a policy lets the lean path skip; decided when the policy is first used. */
interface LeanPlan {
  readonly active: ActivePolicy;
}

const plans = new WeakMap<ActivePolicy, LeanPlan | null>();

/** `BREAKWATER_LEAN_ROUTE=off`: every call the long way (the prototype's parity check). */
const LEAN_OFF = process.env['BREAKWATER_LEAN_ROUTE'] === 'off';

/** The policy's lean plan, or undefined when it uses a feature the lean path does not have. */
export function leanPlan(active: ActivePolicy): LeanPlan | undefined {
  let plan = plans.get(active);
  if (plan === undefined) {
    const doc = active.doc;
    const eligible =
      !LEAN_OFF &&
      !doc.cache.enabled &&
      !doc.audit.enabled &&
      doc.security.promptInjection === 'Off' &&
      doc.backends.length === 1 &&
      // Budgets: the guard set gives no plain guard when any applies.
      active.guard.plainGuard?.(doc.backends[0]?.name ?? '', doc.model.name) !== undefined;
    plan = eligible ? { active } : null;
    plans.set(active, plan);
  }
  return plan ?? undefined;
}

/**
 * Serves the call the lean way and returns its promise, or returns undefined (having done
 * nothing) when this call needs the long way.
 */
export function leanMessages(
  ctx: MessagesNeeds,
  plan: LeanPlan,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
  defaulted: boolean,
  started: number,
): Promise<void> | undefined {
  if (tracingActive() || request.headers[RUN_ID_HEADER] !== undefined) return undefined;
  const model = body.model as string;
  const backend = ctx.router.soleBackend(model);
  if (backend === undefined) return undefined;
  const guard = plan.active.guard.plainGuard?.(backend.name, model);
  if (guard === undefined || guard.target.breaker.isRejecting(ctx.clock.now())) return undefined;
  return run(ctx, plan.active, guard, backend, request, reply, body, defaulted, started);
}

async function run(
  ctx: MessagesNeeds,
  active: ActivePolicy,
  guard: Guard,
  backend: Backend,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
  defaulted: boolean,
  started: number,
): Promise<void> {
  const model = body.model as string;
  // The call's bookkeeping, as beginCall keeps it (no span: tracing is off).
  const abort = watchableAbortController();
  const raw = reply.raw;
  const onClose = () => {
    if (!raw.writableFinished) abort.abort(new Error('caller went away'));
  };
  raw.once('close', onClose);
  ctx.lifecycle.enter();
  ctx.metrics.inFlight.inc();
  const signal = abort.signal;
  const stream = body.stream === true ? new CallerStream(reply, request.id) : undefined;
  const headers = request.headers;
  // The caller's trace context goes on to the provider, as startRequestSpan passes it.
  const outgoing: Record<string, string> = {};
  if (typeof headers.traceparent === 'string') outgoing.traceparent = headers.traceparent;
  if (typeof headers.tracestate === 'string') outgoing.tracestate = headers.tracestate;
  const rawLength = Number(headers['content-length'] ?? 0) || JSON.stringify(body).length;
  const estimate = {
    inputTokens: estimateInputTokens(rawLength),
    outputTokens: body.max_tokens as number,
  };
  const options: AttemptRequest & { signal: AbortSignal } = {
    via: 'forward',
    body,
    rawBody: defaulted ? undefined : request.rawBody,
    stream: stream !== undefined,
    sink: stream,
    headers: withCallerVersion(headers, outgoing),
    signal,
  };
  const router = ctx.router;
  try {
    let routed: RoutedResponse;
    try {
      routed = await guard.execute(
        (a) => router.attempt(new ModelAttempt(a, model, backend), options),
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
        estimate,
        fallbackAfter: err,
      });
    }
    if (routed.fallbackUsed) ctx.metrics.fallbacks.inc({ from: model, to: routed.model });
    const status = routed.status;
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
    // No audit record (the plan has no audit log), so no caller fingerprint is needed.
    const subject: CallSubject = { route: MESSAGES_ROUTE, model, client: () => undefined };
    failCall(ctx, request, reply, { signal, started }, subject, err, stream);
  } finally {
    raw.off('close', onClose);
    ctx.metrics.inFlight.dec();
    ctx.lifecycle.leave();
  }
}
