/**
 * `/mcp/<name>`: each declared MCP server, served guarded over Streamable HTTP (sessions on),
 * for agents the runtime does not run — the team's own container beside the runtime points
 * its MCP client here instead of at the server. Built with the official SDK's low-level
 * `Server` and its Streamable HTTP transport: `tools/list` answers the server's allowed tools
 * (listed by the runtime's own session with it, mcpServerLink.ts); `tools/call` runs through
 * the same guard as the bundled agent's calls (the tool's breaker, the server's bulkhead and
 * timeout), with the loop breaker per session; a tool outside the allow-list is neither listed
 * nor callable. Sessions are kept in memory, at most MAX_SESSIONS per replica (the oldest goes
 * first); a client whose session is gone initialises a new one, as with any server.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { loopLimits } from '../agent/agentTools.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';
import { LoopDetector } from '../agent/loopDetector.ts';
import type { McpServerLink } from './mcpServerLink.ts';
import type { McpTools, ToolOutcome } from './mcpTools.ts';

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
  }) => string;
  readonly loopFound: (tool: string, count: number, shadow: boolean, session: string) => void;
  readonly now: () => number;
}

interface Session {
  readonly server: string;
  readonly transport: StreamableHTTPServerTransport;
  readonly loops: LoopDetector;
}

export class McpEndpoint {
  readonly #deps: EndpointDeps;
  readonly #sessions = new Map<string, Session>();

  constructor(deps: EndpointDeps) {
    this.#deps = deps;
  }

  /**
   * Handles one request to `/mcp/<server>`; false when no such server is declared (the route
   * answers 404 itself).
   */
  async handle(
    server: string,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ): Promise<boolean> {
    const link = this.#deps.mcp.server(server);
    if (link === undefined) return false;
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? this.#sessions.get(id) : undefined;
    if (known !== undefined && known.server === server) {
      await known.transport.handleRequest(req, res, body);
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
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // A tools/call answer is one message: plain JSON, not an event stream to parse.
      enableJsonResponse: true,
      onsessioninitialized: (sid) => {
        this.#remember(sid, {
          server,
          transport,
          loops: new LoopDetector(loopLimits(this.#requireActive().doc)),
        });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) this.#sessions.delete(transport.sessionId);
    };
    await this.#serverFor(link, () => transport.sessionId).connect(transport);
    await transport.handleRequest(req, res, body);
    return true;
  }

  /** Closes every session (shutdown). */
  async close(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.transport.close().catch(() => undefined)));
  }

  #remember(id: string, session: Session): void {
    if (this.#sessions.size >= MAX_SESSIONS) {
      const [oldest] = this.#sessions.keys();
      if (oldest !== undefined) {
        void this.#sessions.get(oldest)?.transport.close();
        this.#sessions.delete(oldest);
      }
    }
    this.#sessions.set(id, session);
  }

  #requireActive(): PolicyInForce {
    const active = this.#deps.active();
    if (active === undefined) throw new Error('no policy in force');
    return active;
  }

  /** The SDK's server for one session: the link's allowed tools, each call guarded. */
  #serverFor(link: McpServerLink, sessionId: () => string | undefined): McpServer['server'] {
    // The SDK's high-level server, used at its low level: the tools are the upstream server's,
    // listed at run time with their JSON Schemas, not registered here.
    const server = new McpServer(
      { name: `breakwater/${link.settings.name}`, version: '1' },
      { capabilities: { tools: {} } },
    ).server;
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: link.state.tools.map((t) => ({
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        inputSchema: t.inputSchema,
      })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const tool = request.params.name;
      const input = request.params.arguments ?? {};
      const id = sessionId() ?? '';
      const session = this.#sessions.get(id);
      const finding = session?.loops.record(`${link.settings.name}__${tool}`, input);
      if (finding !== undefined) {
        const shadow = this.#requireActive().doc.circuitBreaker.mode === 'Shadow';
        this.#deps.loopFound(finding.tool, finding.count, shadow, id);
        if (!shadow)
          return errorResult(
            `loop detected: ${finding.tool} called ${finding.count} times in this session; stopped by the loop breaker (CircuitBreakerPolicy spec.loopDetection)`,
          );
      }
      const started = this.#deps.now();
      const outcome = await this.#deps.mcp.call(
        this.#requireActive().guard,
        link,
        tool,
        input,
        extra.signal,
      );
      const text = this.#deps.record({
        server: link.settings.name,
        tool,
        outcome,
        tookMs: this.#deps.now() - started,
      });
      return outcome.isError ? errorResult(text) : { content: [{ type: 'text', text }] };
    });
    return server;
  }
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (m) =>
      typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize',
  );
}
