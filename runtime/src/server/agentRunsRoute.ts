/**
 * The bundled agent's runs, owned by the runtime (durable/ownedRuns.ts):
 *
 *   POST /v1/agent/runs        the `/v1/agent/invoke` body (no `stream`) → 202 `{id, state}`
 *   GET  /v1/agent/runs/{id}   `{id, state, steps, startedAt, finishedAt?, result?, error?}`
 *
 * and `/v1/agent/invoke` with `Idempotency-Key`, which names a run of its own: a finished
 * run's recorded answer comes back without anything run again. `POST /v1/agent/runs` with
 * `Idempotency-Key` answers the key's run, started once. A run belongs to the client
 * key that started it: for any other key it does not exist (404, the same as a run that never
 * did). Without `spec.durability` there are no runs (and `Idempotency-Key` is ignored).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { AgentRunRecord, AgentRunRequest } from '../durable/agentRunStore.ts';
import { REPLAYED_HEADER } from './durableMessages.ts';
import type { RunRef } from '../durable/durableRuns.ts';
import { keyUnreadable } from './debugRuns.ts';
import { badRequest, refusal, sendError, unacknowledged } from './errorReplies.ts';
import { checkInvokeBody, type InvokeCheck } from './messagesValidation.ts';
import { RUNS_ROUTE } from '../durable/ownedRunExecution.ts';
import { countAs } from './requestCounts.ts';
import { passGate, type Admitted, type GateNeeds } from './requestGate.ts';
import { refuseBody, refusedAsInjection, type CallSubject } from './routeCall.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { RuntimeContext } from './runtimeContext.ts';

export type RunsNeeds = Pick<RuntimeContext, 'durable' | 'ownedRuns' | 'audit' | 'logger'> &
  GateNeeds;

/** The header that names a run on the response of an invocation that is one. */
export const RUN_ID_RESPONSE_HEADER = 'breakwater-run-id';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

export function registerAgentRunsRoutes(app: FastifyInstance, ctx: RunsNeeds): void {
  app.post(RUNS_ROUTE, (request, reply) => startRun(ctx, request, reply));
  app.get(`${RUNS_ROUTE}/:id`, (request, reply) => readRun(ctx, request, reply));
}

type Checked = Extract<InvokeCheck, { ok: true }>;

/**
 * The first steps of every invocation, a run or not: the gate (draining, who is calling, a
 * policy in force), then the body; the request is counted under the agent's model.
 */
export function admitInvocation(
  ctx: GateNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): (Admitted & { readonly checked: Checked }) | undefined {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return undefined;
  const checked = checkInvokeBody(request.body);
  if (!checked.ok) {
    refuseBody(reply, checked.message);
    return undefined;
  }
  countAs(request, admitted.active.doc.model.name);
  return { ...admitted, checked };
}

async function startRun(
  ctx: RunsNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const admitted = admitInvocation(ctx, request, reply);
  if (admitted === undefined) return;
  const { active, caller, checked } = admitted;
  if (checked.stream) {
    refuseBody(reply, `stream: a run is not streamed; read its result with GET ${RUNS_ROUTE}/{id}`);
    return;
  }
  const owner = ctx.durable.ownerOf(caller);
  if (owner === undefined) {
    sendError(reply, durabilityOff(ctx));
    return;
  }
  if (
    refusedAsInjection(
      ctx,
      active,
      request,
      reply,
      subjectOf(active, caller, checked),
      history(checked),
    )
  )
    return;
  // With Idempotency-Key the run is the key's, as on /v1/agent/invoke: sent again (a client
  // that never saw the 202), it is the same run, never a second one.
  const key = request.headers['idempotency-key'];
  let keyed: { readonly id: string; readonly bodyDigest: string } | undefined;
  if (key !== undefined) {
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
      sendError(reply, keyMalformed(key));
      return;
    }
    keyed = { id: keyedRunId(owner, key), bodyDigest: digestOf(request.body) };
    let view;
    try {
      view = await ctx.ownedRuns.read(keyed.id);
    } catch {
      sendError(reply, storeUnavailable());
      return;
    }
    if (view !== undefined) {
      if (view.record.bodyDigest !== undefined && view.record.bodyDigest !== keyed.bodyDigest)
        sendError(reply, keyReused(key));
      else runAccepted(reply, keyed.id, view.record.state);
      return;
    }
  }
  const run: RunRef = { id: keyed?.id ?? randomUUID(), owner, client: caller.fingerprint };
  const started = await ctx.ownedRuns.start(run, runRequest(checked), {
    traceparent: traceparentOf(request),
    ...(keyed === undefined ? {} : { bodyDigest: keyed.bodyDigest }),
  });
  if (!started.started) {
    // Started by the same key's request a moment before.
    if (keyed !== undefined && started.reason === 'exists') runAccepted(reply, run.id, 'running');
    else if (started.reason === 'unacknowledged') sendError(reply, unacknowledged(started.message));
    else sendError(reply, storeUnavailable());
    return;
  }
  started.outcome.catch((err: unknown) => {
    ctx.logger.error({ run: run.id, error: String(err) }, 'run failed to execute');
  });
  runAccepted(reply, run.id, 'running');
}

function runAccepted(reply: FastifyReply, id: string, state: string): void {
  void reply
    .code(202)
    .header('location', `${RUNS_ROUTE}/${id}`)
    .header('content-type', 'application/json')
    .send(JSON.stringify({ id, state }));
}

async function readRun(
  ctx: Pick<RunsNeeds, 'durable' | 'ownedRuns'> & GateNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return;
  const { id } = request.params as { id: string };
  const owner = ctx.durable.ownerOf(admitted.caller);
  let record: AgentRunRecord | undefined;
  let steps = 0;
  if (owner !== undefined && IDEMPOTENCY_KEY.test(id)) {
    try {
      const view = await ctx.ownedRuns.read(id);
      if (view?.record.owner === owner) ({ record, steps } = view);
    } catch {
      sendError(reply, storeUnavailable());
      return;
    }
  }
  if (record === undefined) {
    // Another key's run answers as one that never existed.
    sendError(
      reply,
      refusal(404, 'not_found_error', `no run ${JSON.stringify(id)} for this client key`),
    );
    return;
  }
  void reply
    .code(200)
    .header('content-type', 'application/json')
    .send(JSON.stringify(runView(id, record, steps)));
}

function runView(id: string, record: AgentRunRecord, steps: number): Record<string, unknown> {
  return {
    id,
    state: record.state,
    steps,
    startedAt: new Date(record.startedAt).toISOString(),
    ...(record.finishedAt === undefined
      ? {}
      : { finishedAt: new Date(record.finishedAt).toISOString() }),
    ...(record.result === undefined ? {} : { result: record.result }),
    ...(record.error === undefined ? {} : { error: record.error }),
  };
}

/**
 * `/v1/agent/invoke` with `Idempotency-Key` while durability is on: the key names a run of
 * this client key's. A finished run's answer is returned as recorded; a new one is executed as
 * a run (journaled, leased) and answered when it ends. Returns false when the invocation is
 * to go on as an ordinary one (no header, durability off, or the store unreachable).
 */
export async function invokeAsRun(
  ctx: Pick<RunsNeeds, 'durable' | 'ownedRuns'>,
  caller: CallerIdentity,
  request: FastifyRequest,
  reply: FastifyReply,
  checked: Checked,
): Promise<boolean> {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return false;
  const owner = ctx.durable.ownerOf(caller);
  if (owner === undefined) return false;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    sendError(reply, keyMalformed(key));
    return true;
  }
  if (checked.stream) {
    sendError(
      reply,
      badRequest(
        'stream: an invocation with Idempotency-Key answers as JSON, its answer kept for the key; drop stream or the header',
      ),
    );
    return true;
  }
  // The run is this key's own: the same Idempotency-Key from another client key is another run.
  const id = keyedRunId(owner, key);
  void reply.header(RUN_ID_RESPONSE_HEADER, id);
  let view;
  try {
    view = await ctx.ownedRuns.read(id);
  } catch {
    return false;
  }
  const bodyDigest = digestOf(request.body);
  if (view !== undefined) {
    if (view.record.bodyDigest !== undefined && view.record.bodyDigest !== bodyDigest)
      sendError(reply, keyReused(key));
    else answerRecorded(reply, id, view.record);
    return true;
  }
  const run: RunRef = { id, owner, client: caller.fingerprint };
  const started = await ctx.ownedRuns.start(run, runRequest(checked), {
    traceparent: traceparentOf(request),
    bodyDigest,
  });
  if (!started.started) {
    if (started.reason === 'unavailable') return false;
    if (started.reason === 'unacknowledged') sendError(reply, unacknowledged(started.message));
    else sendError(reply, inProgress(id));
    return true;
  }
  const outcome = await started.outcome;
  if (outcome === undefined)
    sendError(
      reply,
      refusal(
        503,
        'overloaded_error',
        `run ${id} goes on on another replica: ask again with the same Idempotency-Key`,
        1,
      ),
    );
  else if ('result' in outcome) sendResult(reply, outcome.result, false);
  else
    sendError(
      reply,
      refusal(outcome.error.status, errorType(outcome.error.type), outcome.error.message),
    );
  return true;
}

/** The run an Idempotency-Key names: the caller's own (`owner`), never another key's. */
function keyedRunId(owner: string, key: string): string {
  return `idem-${createHash('sha256').update(`${owner}|${key}`).digest('hex').slice(0, 48)}`;
}

function keyMalformed(key: string | string[]) {
  return badRequest(
    `header Idempotency-Key must be 1 to 128 letters, digits or . _ : -, got ${JSON.stringify(key)}`,
  );
}

/** What an Idempotency-Key is bound to: the body's canonical JSON (key order, spacing aside). */
function digestOf(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function keyReused(key: string) {
  return refusal(
    422,
    'invalid_request_error',
    `Idempotency-Key ${JSON.stringify(key)} was used with another request body: a key names one request; send that body again, or use a new key for this one`,
  );
}

function answerRecorded(reply: FastifyReply, id: string, record: AgentRunRecord): void {
  if (record.state === 'running') sendError(reply, inProgress(id));
  else if (record.error !== undefined)
    sendError(
      reply,
      refusal(record.error.status, errorType(record.error.type), record.error.message),
    );
  else sendResult(reply, record.result, true);
}

function sendResult(reply: FastifyReply, result: unknown, recorded: boolean): void {
  if (recorded) void reply.header(REPLAYED_HEADER, 'true');
  void reply.code(200).header('content-type', 'application/json').send(JSON.stringify(result));
}

function inProgress(id: string) {
  return refusal(
    409,
    'invalid_request_error',
    `run ${id} for this Idempotency-Key is still in progress: ask again later, or read it with GET ${RUNS_ROUTE}/${id}`,
  );
}

function errorType(type: string): Parameters<typeof refusal>[1] {
  return type as Parameters<typeof refusal>[1];
}

const durabilityOff = (ctx: Pick<RunsNeeds, 'durable'>) => {
  const unreadable = ctx.durable.unreadable;
  return unreadable === undefined
    ? refusal(
        404,
        'not_found_error',
        'this agent keeps no runs: set spec.durability on its AgentDeployment',
      )
    : refusal(503, 'api_error', keyUnreadable(unreadable));
};

const storeUnavailable = () =>
  refusal(
    503,
    'api_error',
    'the journal store cannot be reached: the run was not started; try again',
    1,
  );

function runRequest(checked: Checked): AgentRunRequest {
  return {
    input: checked.input,
    history: checked.history,
    ...(checked.sessionId === undefined ? {} : { sessionId: checked.sessionId }),
  };
}

const history = (checked: Checked) => [
  ...checked.history,
  { role: 'user', content: checked.input },
];

function subjectOf(active: ActivePolicy, caller: CallerIdentity, checked: Checked): CallSubject {
  return {
    route: RUNS_ROUTE,
    model: active.doc.model.name,
    client: () => caller.fingerprint,
    sessionId: checked.sessionId,
  };
}

/** The caller's trace, for the run's executions to continue. */
function traceparentOf(request: FastifyRequest): string | undefined {
  const header = request.headers.traceparent;
  return typeof header === 'string' ? header : undefined;
}
