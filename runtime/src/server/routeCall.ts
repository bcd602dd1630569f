/**
 * What the routes that call the provider do around their own work, in one place so they
 * count, log, audit and answer alike: a body refused before any work, the prompt-injection
 * screen, the call's bookkeeping
 * (caller-gone signal, in-flight count, drain tracking, request span), and a failure's
 * answer, the error it is counted as (requestCounts.ts), stats, log line and audit record.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import type { SpanKind } from '@opentelemetry/api';
import { isGuardError } from '../guard/errors.ts';
import { failureOf } from '../provider/anthropic/errorClassification.ts';
import { watchableAbortController } from '../provider/abortWatch.ts';
import { callerText, scanForInjection } from '../security/promptInjection.ts';
import { endSpan, startRequestSpan, type RequestSpan } from '../telemetry/tracing.ts';
import type { CallerStream } from './callerStream.ts';
import { badRequest, mapFailure, refusal, sendError } from './errorReplies.ts';
import { callerWentAway, countFailure, type CountedRequest } from './requestCounts.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** What beginning, failing and refusing a call touch: its accounting, log and audit trail. */
export type CallNeeds = Pick<
  RuntimeContext,
  'clock' | 'logger' | 'metrics' | 'lifecycle' | 'stats' | 'audit'
>;

/** Who asked for what, for metrics, logs and audit records. */
export interface CallSubject {
  readonly route: string;
  /** The model the caller asked for (or the agent's, for the agent loop). */
  readonly model: string;
  /** The client's key fingerprint, built only when an audit record is written. */
  readonly client: () => string | undefined;
  /** The agent loop's session, for its audit records. */
  readonly sessionId?: string | undefined;
}

/**
 * Screens the caller's messages under the policy's prompt-injection mode. A finding is
 * counted, audited and logged; under Block the request is answered 400 here and true is
 * returned (the caller stops).
 */
export function refusedAsInjection(
  ctx: Pick<CallNeeds, 'metrics' | 'audit' | 'logger'>,
  active: ActivePolicy,
  request: RouteRequest,
  reply: RouteReply,
  subject: CallSubject,
  messages: unknown,
): boolean {
  const mode = active.doc.security.promptInjection;
  if (mode === 'Off') return false;
  const finding = scanForInjection(callerText(messages));
  if (finding === undefined) return false;
  const action = mode === 'Block' ? 'blocked' : 'flagged';
  ctx.metrics.securityIncidents.inc({ kind: finding.kind, action });
  ctx.audit.record({
    event: 'security_incident',
    requestId: request.id,
    kind: finding.kind,
    action,
    client: subject.client(),
  });
  ctx.logger.warn({ reqId: request.id, kind: finding.kind, action }, 'suspected prompt injection');
  if (action !== 'blocked') return false;
  sendError(
    reply,
    refusal(
      400,
      'invalid_request_error',
      `request blocked by the prompt-injection policy (${finding.kind})`,
    ),
  );
  return true;
}

/** One provider-calling request in flight: begun with `beginCall`, ended with `end()`. */
export interface ProviderCall {
  /** Aborts when the caller goes away before the answer is written. */
  readonly signal: AbortSignal;
  readonly traced: RequestSpan;
  /** Clock time the call began. */
  readonly started: number;
  /** Ends the bookkeeping; call once, in `finally`. */
  end(status: number, failure: unknown): void;
}

export function beginCall(
  ctx: Pick<CallNeeds, 'clock' | 'lifecycle' | 'metrics'>,
  request: RouteRequest,
  reply: RouteReply,
  spanName: string,
  attributes: Record<string, string | number>,
  spanKind?: SpanKind,
): ProviderCall {
  return new OpenCall(ctx, request, reply, spanName, attributes, spanKind);
}

/**
 * A call's bookkeeping as one object of a fixed shape (no closure per call). The caller's
 * going away is heard on the request counter's own 'close' listener when the request is
 * counted (every route that calls the provider is: requestCounts.ts), else on one of its own.
 */
class OpenCall implements ProviderCall {
  readonly signal: AbortSignal;
  readonly traced: RequestSpan;
  readonly started: number;
  readonly #ctx: Pick<CallNeeds, 'lifecycle' | 'metrics'>;
  readonly #raw: RouteReply['raw'];
  /** Where the caller's going away is heard: the counted request's slot, or this listener. */
  readonly #counted: CountedRequest | undefined;
  readonly #onClose: (() => void) | undefined;

  constructor(
    ctx: Pick<CallNeeds, 'clock' | 'lifecycle' | 'metrics'>,
    request: RouteRequest,
    reply: RouteReply,
    spanName: string,
    attributes: Record<string, string | number>,
    spanKind: SpanKind | undefined,
  ) {
    this.started = ctx.clock.now();
    this.traced = startRequestSpan(spanName, request.headers, attributes, spanKind);
    // Its signal reaches the exchange, which watches it without a listener (abortWatch.ts).
    const abort = watchableAbortController();
    this.signal = abort.signal;
    this.#ctx = ctx;
    const raw = reply.raw;
    this.#raw = raw;
    const counted = request.counted;
    if (counted && counted.callerGone === undefined) {
      // The counter's listener aborts it if the answer had not ended.
      this.#counted = counted;
      this.#onClose = undefined;
      counted.callerGone = abort;
    } else {
      this.#counted = undefined;
      this.#onClose = () => {
        if (!raw.writableFinished) abort.abort(callerWentAway());
      };
      raw.once('close', this.#onClose);
    }
    ctx.lifecycle.enter();
    ctx.metrics.inFlight.inc();
  }

  end(status: number, failure: unknown): void {
    if (this.#counted !== undefined) this.#counted.callerGone = undefined;
    else if (this.#onClose !== undefined) this.#raw.off('close', this.#onClose);
    endSpan(this.traced.span, status, failure);
    this.#ctx.metrics.inFlight.dec();
    this.#ctx.lifecycle.leave();
  }
}

/**
 * Answers a failed call in the Anthropic error shape (or ends a stream already under way
 * with an error event),
 * and counts, records, logs and audits it. Returns the status answered.
 */
export function failCall(
  ctx: Pick<CallNeeds, 'clock' | 'logger' | 'stats' | 'audit'>,
  request: RouteRequest,
  reply: RouteReply,
  call: Pick<ProviderCall, 'signal' | 'started'>,
  subject: CallSubject,
  err: unknown,
  stream?: CallerStream,
): number {
  const now = ctx.clock.now();
  // Classified where the attempt failed; the answer and the stats read that, not the body again.
  const failure = failureOf(err, now);
  const mapping = mapFailure(err, failure);
  const status = mapping.status;
  // Said here, not left to sendError: a stream already begun ends with an error event instead.
  countFailure(request, mapping);
  ctx.stats.record('model', subject.model, now - call.started, {
    // No provider failure: the guard's own refusal names itself (LoopDetected, not Unknown).
    errorType:
      failure.outcome === 'Unknown' && isGuardError(err)
        ? err.name.replace(/Error$/, '')
        : failure.outcome,
  });
  ctx.logger.info(
    {
      reqId: request.id,
      route: subject.route,
      model: subject.model,
      ...(mapping.requestId === undefined ? {} : { providerRequestId: mapping.requestId }),
      status,
      error: mapping.message,
    },
    'request failed',
  );
  request.failureLogged = true;
  if (stream?.begun === true) stream.fail(mapping);
  else if (reply.raw.headersSent) reply.raw.end();
  // A caller that left gets nothing (its call may have been read to its end for its usage).
  else if (call.signal.aborted) reply.hijack();
  else if (!reply.sent) sendError(reply, mapping);
  if (ctx.audit.enabled) {
    ctx.audit.record({
      event: 'model_interaction',
      requestId: request.id,
      route: subject.route,
      ...(subject.sessionId === undefined ? {} : { sessionId: subject.sessionId }),
      client: subject.client(),
      model: subject.model,
      fallbackUsed: false,
      status,
      inputTokens: 0,
      outputTokens: 0,
      durationMs: now - call.started,
    });
  }
  return status;
}

/** A body the route cannot send: answered 400 in the API's shape (and counted as such). */
export function refuseBody(reply: RouteReply, message: string): void {
  sendError(reply, badRequest(message));
}
