/**
 * The bundled agent's runs and tool calls as the GenAI conventions' spans
 * (genAiAgentConventions.ts): one `invoke_agent {agent}` per run, under the request's (or the
 * durable run's) span, parent of the run's `chat` spans and of an `execute_tool {tool}` per
 * tool call; and a SERVER span per `tools/call` through `/mcp/<name>`, in the trace its caller
 * sent. With no exporter (tracingActive() false) each is a no-op that costs a branch.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { failureOf } from '../provider/anthropic/errorClassification.ts';
import {
  agentRequestAttributes,
  agentResponseAttributes,
  agentSpanName,
  mcpToolCallAttributes,
  mcpToolCallSpanName,
  REPLAYED,
  toolCallAttributes,
  toolSpanName,
  type AgentIdentity,
  type AgentRunSummary,
  type ToolType,
} from './genAiAgentConventions.ts';
import { runtimeTracer, tracingActive, type RequestSpan } from './tracing.ts';

export interface AgentSpan {
  /**
   * Where the run's chat and tool spans go: the `invoke_agent` span, and the request's own
   * outgoing headers (the same object, pointed at each attempt in turn).
   */
  readonly request: RequestSpan;
  end(outcome: { readonly run: AgentRunSummary } | { readonly error: unknown }): void;
}

/** One run of the bundled agent, under `parent` (the request's or the durable run's span). */
export function startAgentSpan(parent: RequestSpan, agent: AgentIdentity): AgentSpan {
  if (!tracingActive()) return { request: parent, end: noop };
  const span = runtimeTracer().startSpan(
    agentSpanName(agent.name),
    { kind: SpanKind.INTERNAL, attributes: agentRequestAttributes(agent) },
    parent.ctx,
  );
  const ctx = trace.setSpan(parent.ctx, span);
  let ended = false;
  return {
    request: { span, ctx, outgoing: parent.outgoing },
    end: (outcome) => {
      // A failure after the run's end (the answer could not be sent) is the request's, not its.
      if (ended) return;
      ended = true;
      if ('run' in outcome) span.setAttributes(agentResponseAttributes(outcome.run));
      else failed(span, errorTypeOf(outcome.error));
      span.end();
    },
  };
}

/** What a tool call's span is told as the call goes. */
export interface ToolSpan {
  /** The call failed: its `error.type`. */
  failed(errorType: string): void;
  /** The call was answered from a durable run's journal, not made again. */
  replayed(): void;
}

const NOT_RECORDED: ToolSpan = { failed: noop, replayed: noop };

/** One tool call of a run, an `execute_tool` span under `parent` (the run's agent span). */
export async function withToolSpan<T>(
  parent: Context,
  call: { readonly name: string; readonly id: string; readonly type: ToolType },
  run: (span: ToolSpan) => Promise<T>,
): Promise<T> {
  if (!tracingActive()) return run(NOT_RECORDED);
  const span = runtimeTracer().startSpan(
    toolSpanName(call.name),
    { kind: SpanKind.INTERNAL, attributes: toolCallAttributes(call) },
    parent,
  );
  return recorded(span, run);
}

/**
 * One `tools/call` through `/mcp/<name>`, a SERVER span whose parent is the trace context
 * the call carries in `params._meta` (where the MCP conventions put it), else its HTTP
 * request's `traceparent`; a root span when it carries neither.
 */
export async function withMcpToolCallSpan<T>(
  call: {
    readonly tool: string;
    readonly requestId: string | number | undefined;
    readonly sessionId: string | undefined;
    readonly meta: unknown;
    readonly headers: IncomingHttpHeaders | undefined;
  },
  run: (span: ToolSpan) => Promise<T>,
): Promise<T> {
  if (!tracingActive()) return run(NOT_RECORDED);
  const span = runtimeTracer().startSpan(
    mcpToolCallSpanName(call.tool),
    { kind: SpanKind.SERVER, attributes: mcpToolCallAttributes(call) },
    callerContext(call.meta, call.headers),
  );
  return recorded(span, run);
}

async function recorded<T>(span: Span, run: (span: ToolSpan) => Promise<T>): Promise<T> {
  try {
    return await run({
      failed: (errorType) => {
        failed(span, errorType);
      },
      replayed: () => span.setAttribute(REPLAYED, 'true'),
    });
  } catch (err) {
    failed(span, errorTypeOf(err));
    throw err;
  } finally {
    span.end();
  }
}

type Carrier = Readonly<Record<string, unknown>>;

const carrierGetter = {
  keys: (carrier: Carrier) => Object.keys(carrier),
  get: (carrier: Carrier, key: string) => {
    const value = carrier[key];
    return typeof value === 'string' || Array.isArray(value)
      ? (value as string | string[])
      : undefined;
  },
};

function callerContext(meta: unknown, headers: IncomingHttpHeaders | undefined): Context {
  const inMeta =
    typeof meta === 'object' && meta !== null && typeof (meta as Carrier).traceparent === 'string';
  const carrier: Carrier | undefined = inMeta ? (meta as Carrier) : headers;
  return carrier === undefined
    ? ROOT_CONTEXT
    : propagation.extract(ROOT_CONTEXT, carrier, carrierGetter);
}

function failed(span: Span, errorType: string): void {
  span.setAttribute('error.type', errorType);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** The guard's class of a failure, as chat spans and metrics name it; else the error's name. */
export function errorTypeOf(err: unknown): string {
  const outcome = failureOf(err, Date.now()).outcome;
  if (outcome !== 'Unknown') return outcome;
  return err instanceof Error ? err.name : '_OTHER';
}

function noop(): void {
  /* nothing is recorded */
}
