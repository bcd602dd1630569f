/**
 * `POST /v1/agent/invoke` `{input, sessionId?, history?, stream?}` → `{output, model, usage,
 * fallbackUsed, budgetFallback, stopReason}` (`max_turns`: the loop stopped a model that still
 * asked for tools after MAX_ITERATIONS turns), with `x-breakwater-budget: fallback` when a budget sent a turn
 * to a cheaper model; with `stream: true`, an event stream instead: `text` events as the model
 * writes, `tool_call` and `tool_result` as tools run, then `done` with the same fields (or
 * `error` in the Anthropic shape), the header only when the first turn was sent on. Nothing is
 * sent before the first event, so a call that fails before then is answered with a plain HTTP
 * error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { runAgent, type AgentStreamListener } from '../agent/agentLoop.ts';
import { invocationTools } from '../agent/agentTools.ts';
import { admitInvocation, invokeAsRun, type RunsNeeds } from './agentRunsRoute.ts';
import { countAgentFallback, invokeAnswer } from '../durable/ownedRunExecution.ts';
import { BUDGET_HEADER, CallerStream } from './callerStream.ts';
import { budgetRequest } from '../budget/budgets.ts';
import { beginCall, failCall, refusedAsInjection, type CallSubject } from './routeCall.ts';
import { attemptSpans, toolResultInjection } from '../durable/ownedRunExecution.ts';
import type { RuntimeContext } from './runtimeContext.ts';
import type { GateNeeds } from './requestGate.ts';
import type { CallNeeds } from './routeCall.ts';
import { startAgentSpan } from '../telemetry/agentSpans.ts';
import { agentIdentity } from '../telemetry/genAiAgentConventions.ts';

/** `/v1/agent/invoke`: the bundled agent's loop, its tools and loop ledger, and the router. */
export type InvokeNeeds = Pick<RuntimeContext, 'router' | 'mcp' | 'loops'> &
  RunsNeeds &
  CallNeeds &
  GateNeeds;

export const INVOKE_ROUTE = '/v1/agent/invoke';
const ROUTE = INVOKE_ROUTE;

export function registerInvokeRoute(app: FastifyInstance, ctx: InvokeNeeds): void {
  app.post(ROUTE, (request, reply) => handle(ctx, request, reply));
}

async function handle(
  ctx: InvokeNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const admitted = admitInvocation(ctx, request, reply);
  if (admitted === undefined) return;
  const { active, caller, checked } = admitted;
  const { doc, guard } = active;
  const model = doc.model.name;
  const subject: CallSubject = {
    route: ROUTE,
    model,
    client: () => caller.fingerprint,
    sessionId: checked.sessionId,
  };
  const history = [...checked.history, { role: 'user', content: checked.input }];
  if (refusedAsInjection(ctx, active, request, reply, subject, history)) return;
  // `Idempotency-Key` names a run the runtime owns (agentRunsRoute.ts).
  if (await invokeAsRun(ctx, caller, request, reply, checked)) return;
  const call = beginCall(ctx, request, reply, 'POST /v1/agent/invoke', {
    'breakwater.session': checked.sessionId ?? '',
  });
  const { traced, started } = call;
  let status = 200;
  let failure: unknown;
  const stream = checked.stream ? new CallerStream(reply, request.id) : undefined;
  const agent = startAgentSpan(traced, agentIdentity(doc, checked.sessionId));
  try {
    const tools = invocationTools(doc, ctx, {
      guard,
      requestId: request.id,
      route: ROUTE,
      trace: agent.request.ctx,
      onInjection: (kind, tool, blocked) => {
        toolResultInjection(ctx, request.id, subject.client(), kind, tool, blocked);
      },
    });
    const result = await runAgent(
      doc,
      ctx.router,
      tools,
      {
        input: checked.input,
        history: checked.history,
        ...(checked.sessionId === undefined ? {} : { session: checked.sessionId }),
        headers: traced.outgoing,
        wrapAttempt: attemptSpans(agent.request, guard, doc.model.maxTokens),
        ...(stream === undefined ? {} : { listener: streamListener(stream) }),
        ...(doc.rateLimit.spend === undefined
          ? {}
          : {
              budgetOf: (text: string) => {
                const priced = budgetRequest(doc, subject.client, text, doc.model.maxTokens);
                // Each turn's budget records name the invocation, as /v1/messages names its call.
                return priced && { ...priced, requestId: request.id };
              },
            }),
      },
      call.signal,
    );
    countAgentFallback(ctx.metrics, model, result);
    agent.end({ run: result });
    ctx.stats.record('model', result.model, ctx.clock.now() - started, {
      fallback: result.fallbackUsed,
    });
    const answer = invokeAnswer(result);
    if (stream === undefined) {
      // A caller that left while its last turn was read to its end (under a budget) gets nothing.
      if (result.budgetFallback) reply.header(BUDGET_HEADER, 'fallback');
      if (call.signal.aborted) reply.hijack();
      else reply.code(200).header('content-type', 'application/json').send(JSON.stringify(answer));
    } else {
      sendEvent(stream, 'done', answer);
      stream.end();
    }
    ctx.audit.record({
      event: 'model_interaction',
      requestId: request.id,
      route: ROUTE,
      sessionId: checked.sessionId,
      client: subject.client(),
      model,
      servedBy: result.model,
      fallbackUsed: result.fallbackUsed,
      status: 200,
      inputTokens: result.usage.input_tokens,
      outputTokens: result.usage.output_tokens,
      toolCalls: result.toolCalls,
      durationMs: ctx.clock.now() - started,
    });
  } catch (err) {
    agent.end({ error: err });
    failure = err;
    status = failCall(ctx, request, reply, call, subject, err, stream);
  } finally {
    call.end(status, failure);
  }
}

/** Tells a streaming caller what the agent loop does, as it does it. */
function streamListener(stream: CallerStream): AgentStreamListener {
  return {
    text: (text) => {
      sendEvent(stream, 'text', { text });
    },
    toolCall: (toolCall) => {
      sendEvent(stream, 'tool_call', toolCall);
    },
    toolResult: (result) => {
      sendEvent(stream, 'tool_result', result);
    },
    // Only the head can carry the header: a later turn's fallback is told by `done`.
    turnBegins: (budgetFallback) => {
      if (budgetFallback && !stream.begun) stream.budgetFallback = true;
    },
  };
}

function sendEvent(stream: CallerStream, event: string, data: unknown): void {
  stream.begin(200);
  stream.write(Buffer.from(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
}
