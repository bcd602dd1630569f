/**
 * The JSON-RPC messages `/mcp/<name>` reads itself (mcpEndpoint.ts), before or instead of the
 * SDK's transport: a plain `tools/call` it answers on its own, and an `initialize` that opens a
 * session.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export interface ToolCall {
  readonly id: string | number;
  readonly tool: string;
  readonly input: Record<string, unknown>;
  /** `params._meta`: where a caller puts the trace context of the call (MCP conventions). */
  readonly meta: unknown;
}

/**
 * The request when `body` is one `tools/call` with a usable name and a client that takes a
 * JSON answer; otherwise undefined, and the SDK's transport answers (batches, bad params,
 * everything else) as the protocol says.
 */
export function toolCall(body: unknown, accept: string | undefined): ToolCall | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  if (accept === undefined || !accept.includes('application/json')) return undefined;
  const m = body as { method?: unknown; id?: unknown; params?: unknown; jsonrpc?: unknown };
  if (m.method !== 'tools/call' || m.jsonrpc !== '2.0') return undefined;
  if (typeof m.id !== 'string' && typeof m.id !== 'number') return undefined;
  const params: unknown = m.params;
  if (typeof params !== 'object' || params === null) return undefined;
  const {
    name,
    arguments: given,
    _meta: meta,
  } = params as { name?: unknown; arguments?: unknown; _meta?: unknown };
  if (typeof name !== 'string') return undefined;
  const input: unknown = given ?? {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  return { id: m.id, tool: name, input: input as Record<string, unknown>, meta };
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (m) =>
      typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize',
  );
}
