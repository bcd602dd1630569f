/**
 * What both ways through `POST /v1/messages` share (messagesRoute.ts, the long way, and
 * leanMessages.ts, the lean one): the route's needs, the model chain, the admission estimate,
 * how each attempt is recorded on the call's span, and how a plain answer and the caller's API
 * version are passed on.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import type { BackendAttempt } from '../provider/backendPool.ts';
import { tracingActive, withAttemptOnRequestSpan, type RequestSpan } from '../telemetry/tracing.ts';
import { BACKEND_HEADER, BUDGET_HEADER } from './callerStream.ts';
import type { DurableNeeds } from './durableMessages.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { GateNeeds } from './requestGate.ts';
import type { CallNeeds } from './routeCall.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** `/v1/messages`: the router, the response cache, and a call's accounting. */
export type MessagesNeeds = Pick<RuntimeContext, 'router' | 'cache'> &
  CallNeeds &
  GateNeeds &
  DurableNeeds;

export const MESSAGES_ROUTE = '/v1/messages';

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

/** Wraps one provider attempt (the router's `wrapAttempt`). */
export type AttemptWrap = <T>(info: BackendAttempt, run: () => Promise<T>) => Promise<T>;

/**
 * With tracing on, what records each attempt of a call on its `chat {model}` span (tracing.ts:
 * the attempt that answered on the span, the failed ones as its events); undefined without,
 * and undefined when the sampler did not record the call's span: no async frame around each
 * attempt, no breaker lookup and no attribute objects for a span that would drop them (the
 * outgoing `traceparent`, made when the call's span started, still names the unsampled span).
 */
export function attemptsOnSpan(
  traced: RequestSpan,
  active: ActivePolicy,
  maxTokens: number,
): AttemptWrap | undefined {
  if (!tracingActive() || !traced.span.isRecording()) return undefined;
  return (info, run) =>
    withAttemptOnRequestSpan(
      traced,
      {
        model: info.model,
        backend: info.backend,
        maxTokens,
        attempt: info.attempt,
        breakerState: active.guard.permits(info.backend.name, info.model) ? 'allowing' : 'open',
      },
      run,
    );
}

/**
 * The provider's answer, written straight to the socket: the body is the provider's JSON as
 * it came, so fastify's serialization and send hooks (none are registered) have nothing to
 * do, and skipping them is a measurable share of the pass-through's cost.
 */
export function sendAnswer(
  reply: RouteReply,
  status: number,
  text: string,
  requestId: string,
  backend: string,
  budgetFallback?: true,
): void {
  reply.hijack();
  reply.raw.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': requestId,
    [BACKEND_HEADER]: backend,
    ...(budgetFallback === undefined ? {} : { [BUDGET_HEADER]: 'fallback' }),
  });
  reply.raw.end(text);
}

/** The caller's `anthropic-version` and `anthropic-beta` go to the provider with the trace context. */
export function withCallerVersion(
  incoming: RouteRequest['headers'],
  outgoing: Record<string, string>,
): Record<string, string> {
  const version = incoming['anthropic-version'];
  const beta = incoming['anthropic-beta'];
  if (typeof version === 'string') outgoing['anthropic-version'] = version;
  if (typeof beta === 'string') outgoing['anthropic-beta'] = beta;
  return outgoing;
}
