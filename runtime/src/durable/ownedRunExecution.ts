/**
 * The bundled agent's loop for a run the runtime owns (ownedRuns.ts): the same loop,
 * tools and budgets as `/v1/agent/invoke`, with every model turn and tool call through the
 * run's journal (agentJournal.ts), so that a run taken over by another replica replays
 * what was done and goes on from there. A run has no caller waiting on a connection: it ends
 * with `/v1/agent/invoke`'s answer, or the error that answer would have been.
 */
import { randomUUID } from 'node:crypto';
import { runAgent, type AgentResult } from '../agent/agentLoop.ts';
import { invocationTools } from '../agent/agentTools.ts';
import type { LoopLedger } from '../agent/loopLedger.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { McpTools } from '../mcp/mcpTools.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import type { ModelRouter, RouteOptions } from '../provider/modelRouter.ts';
import type { CallStats } from '../stats/callStats.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { RunJournalOfAgent } from './agentJournal.ts';
import type { AgentRunError } from './agentRunStore.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { DurableRuns } from './durableRuns.ts';
import { isSuperseded } from './runRefusedError.ts';
import type { RunExecutor } from './ownedRuns.ts';
import { startAgentSpan } from '../telemetry/agentSpans.ts';
import { agentIdentity } from '../telemetry/genAiAgentConventions.ts';
import {
  endSpan,
  recordReplayedTurn,
  startRequestSpan,
  withAttemptSpan,
  type RequestSpan,
} from '../telemetry/tracing.ts';
import { budgetRequest } from '../budget/budgets.ts';

/** What a run's execution uses: the policy in force, the loop's parts, its records. */
export interface OwnedRunNeeds {
  active(): ActivePolicy | undefined;
  readonly router: ModelRouter;
  readonly mcp: McpTools;
  readonly loops: LoopLedger;
  readonly metrics: RuntimeMetrics;
  readonly stats: CallStats;
  readonly clock: Clock;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly durable: DurableRuns;
  readonly durableMetrics: DurableMetrics;
  /**
   * A failed run's error: the one `/v1/agent/invoke` would have answered with, mapped where
   * every answer is (server/errorReplies.ts `failureError`).
   */
  failureError(err: unknown): AgentRunError;
}

/** The route a run's metrics and audit records name. */
export const RUNS_ROUTE = '/v1/agent/runs';

/** `/v1/agent/invoke`'s answer. */
export function invokeAnswer(result: AgentResult): Record<string, unknown> {
  return {
    output: result.output,
    model: result.model,
    usage: result.usage,
    fallbackUsed: result.fallbackUsed,
    budgetFallback: result.budgetFallback,
    stopReason: result.stopReason,
  };
}

/**
 * An agent request a fallback model served (in some turn): counted once in
 * `agent_fallbacks_total`, as `/v1/messages` counts its own, however many turns it took.
 */
export function countAgentFallback(
  metrics: RuntimeMetrics,
  requested: string,
  result: AgentResult,
): void {
  if (result.fallbackModel !== undefined)
    metrics.fallbacks.inc({ from: requested, to: result.fallbackModel });
}

export function ownedRunExecutor(ctx: OwnedRunNeeds): RunExecutor {
  return async (run, record, signal) => {
    const active = ctx.active();
    if (active === undefined)
      return { error: { status: 503, type: 'api_error', message: 'no policy loaded yet' } };
    const { doc, guard } = active;
    // One span per execution, in the trace of the request that started the run.
    const traced = startRequestSpan(
      'agent.run',
      record.traceparent === undefined ? {} : { traceparent: record.traceparent },
      { 'breakwater.run': run.id, 'gen_ai.request.model': doc.model.name },
    );
    // The run's agent span: a conversation is the caller's session, else the run itself.
    const agent = startAgentSpan(traced, agentIdentity(doc, record.request.sessionId ?? run.id));
    // Each execution is an attempt of its own: its calls are matched with the journal by their
    // place in it, and one superseded by a newer execution (a takeover) can no longer move it.
    const journal = new RunJournalOfAgent(
      { durable: ctx.durable, durableMetrics: ctx.durableMetrics, active },
      { ...run, attempt: randomUUID() },
      () => {
        recordReplayedTurn(agent.request, doc.model.name);
      },
    );
    const requestId = `run-${run.id}`;
    const tools = invocationTools(doc, ctx, {
      guard,
      requestId,
      route: RUNS_ROUTE,
      journal,
      trace: agent.request.ctx,
      onInjection: (kind, tool, blocked) => {
        toolResultInjection(ctx, requestId, record.client, kind, tool, blocked);
      },
    });
    try {
      const result = await runAgent(
        doc,
        ctx.router,
        tools,
        {
          input: record.request.input,
          history: record.request.history,
          ...(record.request.sessionId === undefined ? {} : { session: record.request.sessionId }),
          headers: traced.outgoing,
          journal,
          wrapAttempt: attemptSpans(agent.request, guard, doc.model.maxTokens),
          ...(doc.rateLimit.spend === undefined
            ? {}
            : {
                budgetOf: (text: string) => {
                  const priced = budgetRequest(doc, () => record.client, text, doc.model.maxTokens);
                  // Each turn's budget records name the run, as /v1/agent/invoke names its call.
                  return priced && { ...priced, requestId };
                },
              }),
        },
        signal,
      );
      countAgentFallback(ctx.metrics, doc.model.name, result);
      agent.end({ run: result });
      ctx.audit.record({
        event: 'model_interaction',
        requestId,
        route: RUNS_ROUTE,
        sessionId: record.request.sessionId,
        client: record.client,
        model: doc.model.name,
        servedBy: result.model,
        fallbackUsed: result.fallbackUsed,
        status: 200,
        inputTokens: result.usage.input_tokens,
        outputTokens: result.usage.output_tokens,
        toolCalls: result.toolCalls,
        durationMs: ctx.clock.now() - record.startedAt,
      });
      endSpan(traced.span, 200);
      return { result: invokeAnswer(result) };
    } catch (err) {
      // Superseded: whoever executes the run now records its end, not this stale execution.
      agent.end({ error: err });
      if (isSuperseded(err)) throw err;
      const error = ctx.failureError(err);
      endSpan(traced.span, error.status, err);
      return { error };
    }
  };
}

/** The agent loop's provider attempts as child spans of `traced` (invoke's and a run's). */
export function attemptSpans(
  traced: RequestSpan,
  guard: ActivePolicy['guard'],
  maxTokens: number,
): NonNullable<RouteOptions['wrapAttempt']> {
  return (info, attempt) =>
    withAttemptSpan(
      traced,
      {
        model: info.model,
        backend: info.backend,
        maxTokens,
        attempt: info.attempt,
        breakerState: guard.permits(info.backend.name, info.model) ? 'allowing' : 'open',
      },
      attempt,
    );
}

/** A suspected injection in a tool's result: counted, audited and logged like the caller's. */
export function toolResultInjection(
  ctx: { readonly metrics: RuntimeMetrics; readonly audit: AuditLog; readonly logger: Logger },
  requestId: string,
  client: string | undefined,
  kind: string,
  tool: string,
  blocked: boolean,
): void {
  const action = blocked ? 'blocked' : 'flagged';
  ctx.metrics.securityIncidents.inc({ kind, action });
  ctx.audit.record({
    event: 'security_incident',
    requestId,
    kind,
    action,
    client,
    tool,
  });
  ctx.logger.warn(
    { reqId: requestId, kind, action, tool },
    'suspected prompt injection in a tool result',
  );
}
