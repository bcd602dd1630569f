/**
 * `/v1/messages` in a durable run: the call's step is claimed before anything else is done.
 * A step the journal holds is answered from it — the JSON as it was, or the stream's events
 * through the same relay (provider/streamRelay.ts) the live stream took, so the SDK reads the
 * same events — with no provider call, no tokens, nothing charged to limits or budgets. A live
 * call's answer is journaled before it reaches the caller: the JSON before it is sent, a
 * stream's last write (the one with `message_stop`) held until the journal has it all.
 */
import type { RouteRequest, RouteReply } from './routeShapes.ts';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { endSpan, startRequestSpan } from '../telemetry/tracing.ts';
import { relayStream, type StreamSource } from '../provider/streamRelay.ts';
import { BACKEND_HEADER, CallerStream } from './callerStream.ts';
import { badRequest, refusal, sendError, unacknowledged } from './errorReplies.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { RuntimeContext } from './runtimeContext.ts';
import type { RunAttempt } from '../durable/durableRuns.ts';
import type { ModelAnswer } from '../durable/journalEntry.ts';
import { countSaved, LiveModelStep } from '../durable/modelSteps.ts';
import { runNamedBy } from './runHeaders.ts';

/** Says on a replayed answer that it came from the run's journal. */
export const REPLAYED_HEADER = 'x-breakwater-replayed';

export type DurableNeeds = Pick<RuntimeContext, 'durable' | 'durableMetrics' | 'clock'>;

/** The run this request names (undefined: none, or durability off); 'answered' when refused. */
export function requestRun(
  ctx: Pick<DurableNeeds, 'durable'>,
  caller: CallerIdentity,
  request: RouteRequest,
  reply: RouteReply,
): RunAttempt | 'answered' | undefined {
  const named = runNamedBy(ctx.durable, request.headers, caller);
  if (named === undefined) return undefined;
  if (named.ok) return named.run;
  sendError(reply, badRequest(named.message));
  return 'answered';
}

type ModelStep = LiveModelStep | 'answered' | undefined;

/**
 * Claims the step of a `/v1/messages` call that names a run: answers it (replayed, or refused)
 * and returns 'answered', or returns where a live answer is to be journaled (undefined: the
 * call is not journaled). A call that names no run is told so at once, not in a promise: a
 * policy without durable runs costs its calls no await.
 */
export function beginModelStep(
  ctx: DurableNeeds,
  active: ActivePolicy,
  caller: CallerIdentity,
  request: RouteRequest,
  reply: RouteReply,
  body: Readonly<Record<string, unknown>>,
): ModelStep | Promise<ModelStep> {
  const run = requestRun(ctx, caller, request, reply);
  if (run === undefined || run === 'answered') return run;
  return claimModelStep(ctx, active, request, reply, body, run);
}

async function claimModelStep(
  ctx: DurableNeeds,
  active: ActivePolicy,
  request: RouteRequest,
  reply: RouteReply,
  body: Readonly<Record<string, unknown>>,
  run: RunAttempt,
): Promise<ModelStep> {
  const begun = await ctx.durable.begin(run, 'model', canonicalJson(body));
  switch (begun.action) {
    case 'refused':
      sendError(
        reply,
        begun.status === 409
          ? refusal(409, 'invalid_request_error', begun.message)
          : begun.status === 503
            ? unacknowledged(begun.message)
            : refusal(403, 'permission_error', begun.message),
      );
      return 'answered';
    case 'replay': {
      if (begun.answer.kind !== 'model') return undefined;
      countSaved(ctx, active, begun.answer);
      const traced = startRequestSpan('POST /v1/messages', request.headers, {
        'gen_ai.request.model': String(body.model),
        'breakwater.replayed': 'true',
      });
      try {
        await replayModelAnswer(ctx.clock, request, reply, begun.answer);
      } finally {
        endSpan(traced.span, begun.answer.status, undefined);
      }
      return 'answered';
    }
    case 'unknown':
      // A model call has no effect to repeat: made again, and its answer written in place.
      return new LiveModelStep(ctx.durable, begun.step);
    case 'live':
      return begun.step === undefined ? undefined : new LiveModelStep(ctx.durable, begun.step);
  }
}

/** The recorded answer, as the provider's went out: the JSON, or the events through the relay. */
async function replayModelAnswer(
  clock: Clock,
  request: RouteRequest,
  reply: RouteReply,
  answer: ModelAnswer,
): Promise<void> {
  if (!answer.stream) {
    reply.hijack();
    reply.raw.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(answer.body),
      'request-id': request.id,
      [BACKEND_HEADER]: answer.backend,
      [REPLAYED_HEADER]: 'true',
    });
    reply.raw.end(answer.body);
    return;
  }
  reply.raw.setHeader(REPLAYED_HEADER, 'true');
  const stream = new CallerStream(reply, request.id);
  stream.servedBy = answer.backend;
  await relayStream(recordedSource(answer.body), {
    status: answer.status,
    headers: {},
    sink: stream,
    whenExpired: () => undefined,
    clock,
    maxDurationMs: Infinity,
    firstEvent: () => undefined,
    commit: () => {
      stream.committed = true;
    },
    reportUsage: () => undefined,
  });
  stream.end();
}

/** A journaled stream as a source for the relay: its events, then its end. */
function recordedSource(events: string): StreamSource {
  let cancelled = false;
  return {
    start(listener) {
      setImmediate(() => {
        if (cancelled) return;
        listener.data(Buffer.from(events));
        listener.end();
      });
    },
    pause: () => undefined,
    resume: () => undefined,
    cancel: () => {
      cancelled = true;
    },
  };
}
