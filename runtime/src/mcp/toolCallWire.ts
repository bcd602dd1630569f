/**
 * One `tools/call` on a server's open session, sent as the JSON-RPC POST the Streamable HTTP
 * transport defines and read back as either of its answers: one JSON message, or an event
 * stream that carries the response (and maybe progress or log notifications before it).
 *
 * Why not the SDK client's `callTool`: on a loopback server it costs about a millisecond of
 * CPU per call — the global fetch, a WHATWG stream per answer, schema validation of the
 * request and the result, and a lookup of the tool's output schema — which is what the
 * runtime's `/mcp/<name>` added on top of a direct call (bench/results/runtime.json `mcp`).
 * The session itself (initialize, `tools/list`, `notifications/tools/list_changed`) stays
 * the SDK's: only the hot call goes on the wire here, on the link's keep-alive pool, with the
 * session id and protocol version the SDK negotiated.
 */
import type { Dispatcher } from 'undici';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { loadMcpSdk, type McpSdk } from './mcpSdk.ts';
import type { HeaderSource } from '../guard/headers.ts';
import { HttpStatusError } from '../provider/anthropic/errorClassification.ts';

export interface WireSession {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  /** The server's URL path (and query). */
  readonly path: string;
  readonly sessionId: string | undefined;
  readonly protocolVersion: string | undefined;
  /** Extra headers (the mounted headers Secret). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The server answered with an HTTP error status; 404 on a session means it expired. Classified
 * as any HTTP answer is (a 5xx a ServerError, 429 RateLimited with its retry-after), so it
 * counts against the tool's breaker as an HTTP tool's would.
 */
export class McpHttpError extends HttpStatusError {
  constructor(status: number, body: string, headers?: HeaderSource) {
    super('MCP server', { status, body, headers });
    this.name = 'McpHttpError';
    this.message = `MCP server answered HTTP ${String(status)}${body === '' ? '' : `: ${body.slice(0, 200)}`}`;
  }
}

const ACCEPT = 'application/json, text/event-stream';
let nextId = 0;

/**
 * Sends `tools/call` for `tool` and resolves with the server's result. A JSON-RPC error
 * rejects with the SDK's McpError (the server answered: its session is fine); an HTTP error
 * status with McpHttpError; a failed exchange or an aborted signal with undici's error or the
 * signal's reason. An aborted call is announced to the server with `notifications/cancelled`.
 */
export async function callToolOnWire(
  session: WireSession,
  tool: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<CallToolResult> {
  // A string id: never one of the SDK client's numeric ids on the same session.
  const id = `bw-${++nextId}`;
  const headers = requestHeaders(session);
  try {
    const answer = await post(
      session,
      headers,
      { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } },
      signal,
    );
    const type = String(answer.headers['content-type'] ?? '');
    if (answer.statusCode < 200 || answer.statusCode >= 300)
      throw new McpHttpError(answer.statusCode, await answer.body.text(), answer.headers);
    let message: Response;
    if (type.startsWith('text/event-stream')) message = await responseInStream(answer.body, id);
    else {
      const text = await answer.body.text();
      if (text === '') throw new Error('MCP server answered tools/call without a body');
      message = responseIn(JSON.parse(text) as unknown, id);
    }
    return resultOf(message, await loadMcpSdk());
  } catch (err) {
    if (signal.aborted) {
      cancel(session, headers, id, signal.reason);
      throw signal.reason;
    }
    throw err;
  }
}

function requestHeaders(session: WireSession): Record<string, string> {
  const headers: Record<string, string> = {
    ...session.headers,
    'content-type': 'application/json',
    accept: ACCEPT,
  };
  if (session.sessionId !== undefined) headers['mcp-session-id'] = session.sessionId;
  if (session.protocolVersion !== undefined)
    headers['mcp-protocol-version'] = session.protocolVersion;
  return headers;
}

/** POSTs one JSON-RPC message to the server's endpoint, on the session's pool. */
function post(
  session: WireSession,
  headers: Record<string, string>,
  message: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<Dispatcher.ResponseData> {
  return session.dispatcher.request({
    origin: session.origin,
    path: session.path,
    method: 'POST',
    headers,
    body: JSON.stringify(message),
    signal,
  });
}

/** Tells the server the caller gave up on request `id` (best effort, not awaited). */
function cancel(
  session: WireSession,
  headers: Record<string, string>,
  id: string,
  reason: unknown,
): void {
  post(
    session,
    headers,
    {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: reason instanceof Error ? reason.message : 'cancelled' },
    },
    undefined,
  ).then(
    (answer) => answer.body.dump(),
    () => undefined,
  );
}

interface Response {
  readonly result?: unknown;
  readonly error?: { readonly code?: unknown; readonly message?: unknown; readonly data?: unknown };
}

/** The response to `id` among the messages of one JSON answer (one message or a batch). */
function responseIn(parsed: unknown, id: string): Response {
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof message === 'object' && message !== null && (message as { id?: unknown }).id === id)
      return message as Response;
  }
  throw new Error(`MCP server answered without a response to request ${id}`);
}

/**
 * Reads an event stream until the event that holds the response to `id`. The rest is read
 * and dropped as it comes (the server ends the stream after the response): stopping early
 * would close the keep-alive connection under it.
 */
function responseInStream(body: Dispatcher.ResponseData['body'], id: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    let pending = '';
    let found = false;
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      if (found) return;
      pending += chunk;
      let end: number;
      while ((end = eventEnd(pending)) >= 0) {
        const data = eventData(pending.slice(0, end));
        pending = pending.slice(end).replace(/^(?:\r\n|\r|\n){2}/, '');
        if (data === undefined) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(data);
        } catch (err) {
          found = true;
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (
          typeof parsed === 'object' &&
          parsed !== null &&
          (parsed as { id?: unknown }).id === id
        ) {
          found = true;
          resolve(parsed);
          return;
        }
      }
    });
    body.once('error', (err) => {
      if (!found) reject(err);
    });
    body.once('end', () => {
      if (!found)
        reject(new Error(`MCP server ended its event stream without a response to request ${id}`));
    });
  });
}

/** Where the first complete event ends (the start of its blank line), or -1. */
function eventEnd(text: string): number {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(text);
  return match === null ? -1 : match.index;
}

/** An event's `data:` lines joined, or undefined when it has none. */
function eventData(event: string): string | undefined {
  let data: string | undefined;
  for (const line of event.split(/\r\n|\r|\n/)) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line[5] === ' ' ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function resultOf(message: Response, { McpError }: McpSdk): CallToolResult {
  if (message.error !== undefined) {
    const code = typeof message.error.code === 'number' ? message.error.code : -32603;
    const text = typeof message.error.message === 'string' ? message.error.message : 'error';
    throw new McpError(code, text, message.error.data);
  }
  const result = message.result as { content?: unknown } | null | undefined;
  if (typeof result !== 'object' || result === null || !Array.isArray(result.content))
    throw new McpError(-32603, 'MCP server answered tools/call without a content array');
  return result as CallToolResult;
}
