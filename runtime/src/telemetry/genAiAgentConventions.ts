/**
 * The GenAI conventions' agent and tool spans as Breakwater fills them: `invoke_agent {agent}`
 * for a run of the bundled agent (an in-process agent: INTERNAL), `execute_tool {tool}` for
 * each of its tool calls, and the MCP conventions' server span (`tools/call {tool}`) for a
 * call through the runtime's own `/mcp/<name>`. Pure: the spans themselves are agentSpans.ts'.
 */
import type { BackendType } from '../../../contract/src/policy/policyDocument.ts';
import { providerName } from './genAiConventions.ts';

export const INVOKE_AGENT = 'invoke_agent';
export const EXECUTE_TOOL = 'execute_tool';
/** `mcp.method.name` of a tool call. */
export const TOOLS_CALL = 'tools/call';

/** The attribute that marks a step answered from a durable run's journal, not made again. */
export const REPLAYED = 'breakwater.replayed';

/** Who a run of the bundled agent is, in the conventions' terms. */
export interface AgentIdentity {
  /** The AgentDeployment's name. */
  readonly name: string;
  /** Its namespace: `gen_ai.agent.id` is `<namespace>/<name>`, unique in a cluster. */
  readonly namespace: string;
  /** The backend type tried first (the lowest `priority`): its `gen_ai.provider.name`. */
  readonly provider: BackendType;
  readonly model: string;
  /** The caller's `sessionId`, or the durable run's id: `gen_ai.conversation.id`. */
  readonly conversationId?: string | undefined;
}

/**
 * The agent of a policy document: its name and namespace, its model, and the type of the
 * backend tried first (a document always lists one backend at least).
 */
export function agentIdentity(
  doc: {
    readonly agent: { readonly name: string; readonly namespace: string };
    readonly model: { readonly name: string };
    readonly backends: readonly { readonly type?: BackendType; readonly priority?: number }[];
  },
  conversationId: string | undefined,
): AgentIdentity {
  let first = doc.backends[0];
  for (const b of doc.backends) if ((b.priority ?? 0) < (first?.priority ?? 0)) first = b;
  return {
    name: doc.agent.name,
    namespace: doc.agent.namespace,
    provider: first?.type ?? 'Anthropic',
    model: doc.model.name,
    ...(conversationId === undefined ? {} : { conversationId }),
  };
}

export function agentSpanName(agent: string): string {
  return `${INVOKE_AGENT} ${agent}`;
}

/** What an `invoke_agent` span starts with. */
export function agentRequestAttributes(agent: AgentIdentity): Record<string, string> {
  const attributes: Record<string, string> = {
    'gen_ai.operation.name': INVOKE_AGENT,
    'gen_ai.provider.name': providerName(agent.provider),
    'gen_ai.agent.name': agent.name,
    'gen_ai.agent.id': `${agent.namespace}/${agent.name}`,
    'gen_ai.request.model': agent.model,
  };
  if (agent.conversationId !== undefined && agent.conversationId !== '')
    attributes['gen_ai.conversation.id'] = agent.conversationId;
  return attributes;
}

/** What a run's tokens add up to, over all its model turns. */
export interface AgentRunSummary {
  /** The model that served the last turn. */
  readonly model: string;
  readonly stopReason: string;
  /** The Messages API's sums: `input_tokens` leaves out the cache's reads and writes. */
  readonly usage: { readonly input_tokens: number; readonly output_tokens: number };
  readonly cache: { readonly read: number; readonly creation: number };
}

/**
 * What an `invoke_agent` span gains when the run ends: the token sums over its turns (input
 * counting the cache's reads and writes, as for a chat span), the last turn's model and why
 * the run stopped.
 */
export function agentResponseAttributes(
  run: AgentRunSummary,
): Record<string, string | number | string[]> {
  return {
    'gen_ai.usage.input_tokens': run.usage.input_tokens + run.cache.read + run.cache.creation,
    'gen_ai.usage.output_tokens': run.usage.output_tokens,
    'gen_ai.usage.cache_read.input_tokens': run.cache.read,
    'gen_ai.usage.cache_creation.input_tokens': run.cache.creation,
    'gen_ai.response.model': run.model,
    'gen_ai.response.finish_reasons': [run.stopReason],
  };
}

/**
 * `gen_ai.tool.type`: an HTTP tool the runtime POSTs to is the agent's own function; an MCP
 * server's tool is an extension the agent calls out to, as the conventions tell them apart.
 */
export type ToolType = 'function' | 'extension';

export function toolSpanName(tool: string): string {
  return `${EXECUTE_TOOL} ${tool}`;
}

/** What an `execute_tool` span starts with. */
export function toolCallAttributes(call: {
  readonly name: string;
  readonly id: string;
  readonly type: ToolType;
}): Record<string, string> {
  const attributes: Record<string, string> = {
    'gen_ai.operation.name': EXECUTE_TOOL,
    'gen_ai.tool.name': call.name,
    'gen_ai.tool.type': call.type,
  };
  if (call.id !== '') attributes['gen_ai.tool.call.id'] = call.id;
  return attributes;
}

/**
 * A tool call's `error.type`: the guard's class when the call could not be made (Timeout,
 * Rejected, NotAllowed, …), `tool_error` (the MCP conventions' value) when the tool answered
 * with an error; none when it succeeded.
 */
export function toolErrorType(outcome: {
  readonly isError: boolean;
  readonly failure?: string | undefined;
}): string | undefined {
  if (outcome.failure !== undefined) return outcome.failure;
  return outcome.isError ? 'tool_error' : undefined;
}

export function mcpToolCallSpanName(tool: string): string {
  return `${TOOLS_CALL} ${tool}`;
}

/**
 * What the server span of a `tools/call` through `/mcp/<server>` starts with: the MCP
 * conventions' method, request and session, and the GenAI tool attributes that let it be read
 * as any other tool call.
 */
export function mcpToolCallAttributes(call: {
  readonly tool: string;
  readonly requestId: string | number | undefined;
  readonly sessionId: string | undefined;
}): Record<string, string> {
  const attributes: Record<string, string> = {
    'mcp.method.name': TOOLS_CALL,
    'gen_ai.operation.name': EXECUTE_TOOL,
    'gen_ai.tool.name': call.tool,
    'gen_ai.tool.type': 'extension',
  };
  if (call.requestId !== undefined) attributes['jsonrpc.request.id'] = String(call.requestId);
  if (call.sessionId !== undefined) attributes['mcp.session.id'] = call.sessionId;
  return attributes;
}
