/**
 * `/mcp/<name>`: each declared MCP server, served guarded over Streamable HTTP (sessions on),
 * for agents the runtime does not run — the team's own container beside the runtime points
 * its MCP client here instead of at the server. Built with the official SDK's low-level
 * `Server` and its Streamable HTTP transport: `tools/list` answers the server's allowed tools
 * (listed by the runtime's own session with it, mcpServerLink.ts); `tools/call` runs through
 * the same guard as the bundled agent's calls (the tool's breaker, the server's bulkhead and
 * timeout), with the loop breaker per session; a tool outside the allow-list is neither listed
 * nor callable. Sessions are kept in memory, at most MAX_SESSIONS per replica (when full, the
 * oldest of the caller holding the most goes: sessionTable.ts); a client whose session is gone
 * initialises a new one, as with any server. A session
 * is its opener's (access/callerIdentity.ts): to any other caller it does not exist (404, as for
 * a session that never did), so a session id seen in a log opens nobody else's tools or runs.
 *
 * A `tools/call` on a session this replica holds — nearly every request an agent sends — is
 * answered here without the SDK's transport, which turns each Node request into a WHATWG
 * Request and Response and validates it against the schemas: that was most of the time the
 * endpoint added to a call (bench/results/runtime.json `mcp`). The server's result is passed
 * on whole (images, structured content), unless the prompt-injection guard withholds it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import { loopLimits } from '../agent/agentTools.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';
import { LoopDetector } from '../agent/loopDetector.ts';
import { isRefused, type DurableTools, type RefusedRun } from '../durable/durableTools.ts';
import { badRequest, refusal, unacknowledged, writeError } from '../server/errorReplies.ts';
import { runNamedBy, type RunHeader } from '../server/runHeaders.ts';
import type { McpServerLink } from './mcpServerLink.ts';
import { loadMcpSdk, type McpSdk } from './mcpSdk.ts';
import type { McpTools, ToolOutcome } from './mcpTools.ts';
import { SessionTable } from './sessionTable.ts';
import { errorResult, isInitialize, toolCall, type ToolCall } from './mcpMessages.ts';
import { withMcpToolCallSpan, type ToolSpan } from '../telemetry/agentSpans.ts';
import { toolErrorType } from '../telemetry/genAiAgentConventions.ts';

const MAX_SESSIONS = 1_000;

/** The policy in force and its guard, as the endpoint needs them. */
export interface PolicyInForce {
  readonly doc: PolicyDocument;
  readonly guard: RuntimeGuard;
}

export interface EndpointDeps {
  readonly mcp: McpTools;
  readonly active: () => PolicyInForce | undefined;
  /** Bookkeeping of one call: metrics, stats, injection screening, loop reports. */
  readonly record: (call: {
    readonly server: string;
    readonly tool: string;
    readonly outcome: ToolOutcome;
    readonly tookMs: number;
    /** The MCP session the call came on (the audit's request id for `/mcp`). */
    readonly session: string | undefined;
  }) => string;
  readonly loopFound: (tool: string, count: number, shadow: boolean, session: string) => void;
  readonly now: () => number;
  /** Durable runs (`Breakwater-Run-Id`): each call through the run's journal. */
  readonly durable?: DurableTools;
}

interface Session {
  readonly id: string;
  readonly server: string;
  /** Who opened it: only that caller may use it. */
  readonly caller: CallerIdentity;
  /** The opener's `binding`, by which the table shares its room among callers. */
  readonly owner: string;
  readonly transport: StreamableHTTPServerTransport;
  readonly loops: LoopDetector;
  /** The SDK's server of the session: tells the client when the tools it may use change. */
  readonly sdk: McpServer['server'];
  /** The tool names the session's client may use, as last told. */
  tools: string;
}

export class McpEndpoint {
  readonly #deps: EndpointDeps;
  readonly #sessions = new SessionTable<Session>(MAX_SESSIONS);

  constructor(deps: EndpointDeps) {
    this.#deps = deps;
    deps.mcp.onChange(() => {
      this.#toolsChanged();
    });
  }

  /**
   * The tools a session's client may use changed (the allow-list was edited, or the server's own
   * list changed): each such session is sent `notifications/tools/list_changed`, as the
   * endpoint's `listChanged` capability promises. Best effort: a client with no stream open for
   * notifications still gets the new list on its next `tools/list`.
   */
  #toolsChanged(): void {
    for (const session of this.#sessions.values()) {
      const now = toolNames(this.#deps.mcp.server(session.server));
      if (now === session.tools) continue;
      session.tools = now;
      session.sdk.sendToolListChanged().catch(() => undefined);
    }
  }

  /**
   * Handles one request to `/mcp/<server>`; false when no such server is declared (the route
   * answers 404 itself). `requestId` is the request's, which an error answer carries.
   */
  async handle(
    server: string,
    caller: CallerIdentity,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    requestId: string,
  ): Promise<boolean> {
    const link = this.#deps.mcp.server(server);
    if (link === undefined) return false;
    const durable = this.#deps.durable;
    const named = durable === undefined ? undefined : runNamedBy(durable, req.headers, caller);
    if (named?.ok === false) {
      // Any request naming a run names it whole, a session's first as well as its tool calls
      // (decision 0060); nothing is journaled or opened.
      writeError(res, badRequest(named.message), requestId);
      return true;
    }
    const id = req.headers['mcp-session-id'];
    const held = typeof id === 'string' ? this.#sessions.get(id) : undefined;
    // Another caller's session, or another server's, answers as one this replica does not hold.
    const known =
      held?.server === server && held.caller.binding === caller.binding ? held : undefined;
    if (known !== undefined) {
      const call = req.method === 'POST' ? toolCall(body, req.headers.accept) : undefined;
      if (call === undefined) await known.transport.handleRequest(req, res, body);
      else await this.#answerCall(known, link, call, named, req, res, requestId);
      return true;
    }
    if (typeof id === 'string' || !isInitialize(body)) {
      // A session this replica does not hold (gone, or another replica's): start a new one.
      res.writeHead(typeof id === 'string' ? 404 : 400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: {
            code: -32000,
            message:
              typeof id === 'string'
                ? 'session not found: initialize a new one'
                : 'send initialize first: no session id',
          },
          id: null,
        }),
      );
      return true;
    }
    // Loaded with the policy that declared the server (policyModules.ts): resolved already.
    const modules = await loadMcpSdk();
    const sdk = this.#serverFor(modules, server, caller, () => transport.sessionId);
    const transport = new modules.StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // A tools/call answer is one message: plain JSON, not an event stream to parse.
      enableJsonResponse: true,
      onsessioninitialized: (sid) => {
        this.#remember({
          id: sid,
          server,
          caller,
          owner: caller.binding,
          transport,
          loops: new LoopDetector(loopLimits(this.#requireActive().doc)),
          sdk,
          tools: toolNames(this.#deps.mcp.server(server)),
        });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
    };
    await sdk.connect(transport);
    await transport.handleRequest(req, res, body);
    return true;
  }

  /** Closes every session (shutdown). */
  async close(): Promise<void> {
    const sessions = this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.transport.close().catch(() => undefined)));
  }

  /** A `tools/call` on a held session, answered as one JSON message. */
  async #answerCall(
    session: Session,
    link: McpServerLink,
    call: ToolCall,
    named: RunHeader | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<void> {
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort(new Error('the MCP client went away'));
    };
    res.once('close', onClose);
    try {
      const result = await this.#traced(
        { tool: call.tool, requestId: call.id, sessionId: session.id, meta: call.meta },
        req.headers,
        (span) => this.#call(session, link, call.tool, call.input, gone.signal, named, span),
      );
      if (isRefused(result)) {
        const mapping =
          named?.ok === false
            ? badRequest(result.refused)
            : result.status === 409
              ? refusal(409, 'invalid_request_error', result.refused)
              : result.status === 503
                ? unacknowledged(result.refused)
                : refusal(403, 'permission_error', result.refused);
        writeError(res, mapping, requestId);
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const id = req.headers['mcp-session-id'];
      if (typeof id === 'string') headers['mcp-session-id'] = id;
      res.writeHead(200, headers);
      res.end(JSON.stringify({ jsonrpc: '2.0', id: call.id, result }));
    } finally {
      res.off('close', onClose);
    }
  }

  /**
   * One tool call in its server span (agentSpans.ts), parented on the trace the caller sent;
   * a call its run refused is marked `RunRefused`.
   */
  async #traced(
    call: Omit<Parameters<typeof withMcpToolCallSpan>[0], 'headers'>,
    headers: Parameters<typeof withMcpToolCallSpan>[0]['headers'],
    run: (span: ToolSpan) => Promise<CallToolResult | RefusedRun>,
  ): Promise<CallToolResult | RefusedRun> {
    return withMcpToolCallSpan({ ...call, headers }, async (span) => {
      const result = await run(span);
      if (isRefused(result)) span.failed('RunRefused');
      return result;
    });
  }

  /** One tool call, through its run's journal when it names a durable run. */
  #call(
    session: Session | undefined,
    link: McpServerLink,
    tool: string,
    input: Record<string, unknown>,
    signal: AbortSignal,
    named: RunHeader | undefined,
    span: ToolSpan,
  ): Promise<CallToolResult | RefusedRun> {
    const live = () => this.#callLive(session, link, tool, input, signal, span);
    const durable = this.#deps.durable;
    if (named === undefined || durable === undefined) return live();
    if (!named.ok) return Promise.resolve({ refused: named.message });
    return durable.call(named.run, link, tool, input, {
      live,
      signal,
      replayed: () => {
        span.replayed();
      },
    });
  }

  /** One tool call of a session: the loop breaker, then the guarded call, then bookkeeping. */
  async #callLive(
    session: Session | undefined,
    link: McpServerLink,
    tool: string,
    input: Record<string, unknown>,
    signal: AbortSignal,
    span: ToolSpan,
  ): Promise<CallToolResult> {
    const finding = session?.loops.record(`${link.settings.name}__${tool}`, input);
    if (finding !== undefined) {
      const shadow = this.#requireActive().doc.circuitBreaker.mode === 'Shadow';
      this.#deps.loopFound(finding.tool, finding.count, shadow, session?.id ?? '');
      if (!shadow) {
        span.failed('LoopDetected');
        return errorResult(
          `loop detected: ${finding.tool} called ${finding.count} times in this session; stopped by the loop breaker (CircuitBreakerPolicy spec.loopDetection)`,
        );
      }
    }
    const started = this.#deps.now();
    const outcome = await this.#deps.mcp.call(
      this.#requireActive().guard,
      link,
      tool,
      input,
      signal,
    );
    const text = this.#deps.record({
      server: link.settings.name,
      tool,
      outcome,
      tookMs: this.#deps.now() - started,
      session: session?.id,
    });
    const errorType = toolErrorType(outcome);
    if (errorType !== undefined) span.failed(errorType);
    // The server's own result, whole, unless the screen withheld it.
    if (outcome.result !== undefined && text === outcome.text) return outcome.result;
    return outcome.isError ? errorResult(text) : { content: [{ type: 'text', text }] };
  }

  #remember(session: Session): void {
    const displaced = this.#sessions.add(session);
    if (displaced !== undefined) void displaced.transport.close().catch(() => undefined);
  }

  #requireActive(): PolicyInForce {
    const active = this.#deps.active();
    if (active === undefined) throw new Error('no policy in force');
    return active;
  }

  /**
   * The SDK's server for one session: the allowed tools of the server's link as the policy in
   * force has it (looked up per request: a reload may replace the link), each call guarded.
   */
  #serverFor(
    { McpServer, McpError, ErrorCode, ListToolsRequestSchema, CallToolRequestSchema }: McpSdk,
    name: string,
    caller: CallerIdentity,
    sessionId: () => string | undefined,
  ): McpServer['server'] {
    // The SDK's high-level server, used at its low level: the tools are the upstream server's,
    // listed at run time with their JSON Schemas, not registered here.
    const server = new McpServer(
      { name: `breakwater/${name}`, version: '1' },
      { capabilities: { tools: { listChanged: true } } },
    ).server;
    const current = (): McpServerLink => {
      const link = this.#deps.mcp.server(name);
      if (link === undefined) throw new McpError(ErrorCode.InvalidRequest, `no MCP server ${name}`);
      return link;
    };
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...current().state.tools] }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const headers = extra.requestInfo?.headers;
      const tool = request.params.name;
      const sid = sessionId();
      const answer = await this.#traced(
        { tool, requestId: extra.requestId, sessionId: sid, meta: request.params._meta },
        headers,
        (span) =>
          this.#call(
            this.#sessions.get(sid ?? ''),
            current(),
            tool,
            request.params.arguments ?? {},
            extra.signal,
            headers === undefined || this.#deps.durable === undefined
              ? undefined
              : runNamedBy(this.#deps.durable, headers, caller),
            span,
          ),
      );
      if (isRefused(answer)) throw new McpError(ErrorCode.InvalidRequest, answer.refused);
      return answer;
    });
    return server;
  }
}

/** The names of the tools a link lets its clients use, as one comparable string. */
function toolNames(link: McpServerLink | undefined): string {
  return (link?.state.tools ?? []).map((t) => t.name).join('\n');
}
