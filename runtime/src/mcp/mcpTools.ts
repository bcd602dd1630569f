/**
 * The MCP servers of the policy and their tools, as the agent and `/mcp/<name>` use them:
 * each server's link (mcpServerLink.ts), kept across policy reloads while its address and
 * headers Secret stay the same; the tools offered to the model as `<server>__<tool>` (only
 * those the allow-list admits, from servers that answer); and each call run under the guard
 * — the tool's own breaker, the server's bulkhead, the server's timeout. A result with
 * `isError` counts against the tool's breaker and reaches the model as the tool put it; a call
 * that cannot be made (breaker open, timed out, the server down) comes back as an `is_error`
 * result that tells the model the tool is unavailable. Either way the invocation goes on, and
 * the other tools are untouched.
 */
import { join } from 'node:path';
import type { CallToolResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { McpServerSettings } from '../../../contract/src/policy/policyDocument.ts';
import {
  MCP_HEADERS_DIR_ENV,
  MCP_HEADERS_MOUNT_PATH,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { McpServerReport } from '../../../contract/src/reporting/mcpReport.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { failureOf, HttpStatusError } from '../provider/anthropic/errorClassification.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';
import type { Logger } from '../telemetry/logger.ts';
import { McpServerLink, type ListedTool } from './mcpServerLink.ts';
import { isMcpError, loadMcpSdk } from './mcpSdk.ts';

/** The separator between a server's name and its tool's in the names the model sees. */
export const TOOL_SEPARATOR = '__';
/** The Messages API's limit on a tool name. */
const MODEL_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export interface ModelTool {
  readonly name: string;
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
}

/** What a tool call came to: text for the model, and whether it is an error. */
export interface ToolOutcome {
  readonly text: string;
  readonly isError: boolean;
  /** The guard's outcome class when the call could not be made (Timeout, Rejected, …). */
  readonly failure?: string;
  /** The server's own result, when it answered (`/mcp/<name>` passes it on whole). */
  readonly result?: CallToolResult;
}

export class McpTools {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #links = new Map<string, McpServerLink>();
  readonly #listeners = new Set<() => void>();
  /** Tools told once to be out of the model's reach by their names. */
  readonly #toldUnnamable = new Set<string>();

  constructor(deps: {
    clock: Clock;
    logger: Logger;
    env: Readonly<Record<string, string | undefined>>;
  }) {
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#env = deps.env;
  }

  /** Follows the policy: new servers connect, dropped ones close, changed ones reconnect. */
  sync(servers: readonly McpServerSettings[]): void {
    // Loaded before such a policy is applied (policyModules.ts); here for any other caller.
    if (servers.length > 0) loadMcpSdk().catch(() => undefined);
    const next = new Map<string, McpServerLink>();
    for (const settings of servers) {
      const old = this.#links.get(settings.name);
      if (
        old !== undefined &&
        old.settings.url === settings.url &&
        old.settings.headersSecret === settings.headersSecret &&
        sameList(old.settings.tools, settings.tools)
      ) {
        old.update(settings);
        next.set(settings.name, old);
        continue;
      }
      const link = new McpServerLink(settings, {
        clock: this.#clock,
        logger: this.#logger,
        headersDir:
          settings.headersSecret === undefined
            ? undefined
            : join(this.#env[MCP_HEADERS_DIR_ENV] ?? MCP_HEADERS_MOUNT_PATH, settings.name),
        onChange: () => {
          this.#notify();
        },
      });
      link.start();
      next.set(settings.name, link);
    }
    for (const [name, link] of this.#links) if (next.get(name) !== link) void link.close();
    this.#links.clear();
    for (const [name, link] of next) this.#links.set(name, link);
    this.#notify();
  }

  /** A server by name (`/mcp/<name>`). */
  server(name: string): McpServerLink | undefined {
    return this.#links.get(name);
  }

  /** The tools offered to the model: every allowed tool of every server that answers. */
  modelTools(): ModelTool[] {
    const tools: ModelTool[] = [];
    for (const [server, link] of this.#links) {
      for (const tool of link.state.tools) {
        const name = `${server}${TOOL_SEPARATOR}${tool.name}`;
        if (!MODEL_TOOL_NAME.test(name)) {
          this.#unnamable(name);
          continue;
        }
        tools.push({
          name,
          description: tool.description ?? `${tool.name} (MCP server ${server})`,
          input_schema: tool.inputSchema,
        });
      }
    }
    return tools;
  }

  /**
   * A tool whose name the Messages API would refuse (1 to 64 letters, digits, _ or -): the
   * bundled agent cannot offer it, though `/mcp/<name>` serves it. Said once per tool.
   */
  #unnamable(name: string): void {
    if (this.#toldUnnamable.has(name)) return;
    this.#toldUnnamable.add(name);
    this.#logger.warn(
      { tool: name },
      `MCP tool ${name} is not offered to the bundled agent's model: a tool name there is 1 to 64 letters, digits, _ or - (it is still served at /mcp/<name>)`,
    );
  }

  /** The server and tool behind a name the model used, when it is one of ours. */
  resolve(name: string): { link: McpServerLink; tool: string } | undefined {
    const at = name.indexOf(TOOL_SEPARATOR);
    if (at <= 0) return undefined;
    const link = this.#links.get(name.slice(0, at));
    return link === undefined ? undefined : { link, tool: name.slice(at + TOOL_SEPARATOR.length) };
  }

  /**
   * Calls `tool` of `link` under the guard. Never throws for the tool's or the server's
   * failures: those become an error outcome the model can read.
   */
  async call(
    guard: RuntimeGuard,
    link: McpServerLink,
    tool: string,
    input: unknown,
    signal: AbortSignal,
  ): Promise<ToolOutcome> {
    const server = link.settings.name;
    const name = `${server}${TOOL_SEPARATOR}${tool}`;
    if (!link.allows(tool))
      return {
        text: `tool "${name}" is not one this agent may call`,
        isError: true,
        failure: 'NotAllowed',
      };
    try {
      const result = await guard.callTool(
        name,
        link.settings.timeoutMs,
        async (s) => {
          const answer = await link.call(tool, asArguments(input), s).catch((err: unknown) => {
            throw isMcpError(err) ? new ToolErrorAnswer(name, err) : err;
          });
          // The tool ran and failed: it counts against the tool's breaker.
          if (answer.isError === true) throw new ToolResultError(name, answer);
          return answer;
        },
        signal,
        link.settings,
      );
      return { text: resultText(result), isError: false, result };
    } catch (err) {
      if (err instanceof ToolResultError)
        return {
          text: resultText(err.result),
          isError: true,
          failure: 'ServerError',
          result: err.result,
        };
      const outcome = failureOf(err, this.#clock.now()).outcome;
      if (err instanceof ToolErrorAnswer)
        return { text: `tool "${name}" failed: ${err.said}`, isError: true, failure: outcome };
      return {
        text: `tool "${name}" is unavailable (${outcome}); carry on without it or try another tool`,
        isError: true,
        failure: outcome,
      };
    }
  }

  /** Each server's state for the pod report. */
  report(toTime: (ms: number) => string): Record<string, McpServerReport> {
    const out: Record<string, McpServerReport> = {};
    for (const [name, link] of this.#links) {
      const s = link.state;
      out[name] = {
        reachable: s.reachable,
        tools: s.tools.length,
        since: toTime(s.since),
        ...(s.error === undefined ? {} : { error: s.error }),
      };
    }
    return out;
  }

  /** Registers a listener for state changes; returns a function that removes it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#links.values()].map((l) => l.close()));
    this.#links.clear();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}

export type { ListedTool };

/** A result with `isError`: the tool's own failure, told to the model as the tool put it. */
class ToolResultError extends HttpStatusError {
  readonly result: CallToolResult;

  constructor(tool: string, result: CallToolResult) {
    super(`MCP tool "${tool}"`, { status: 502, body: resultText(result) });
    this.result = result;
  }
}

/**
 * JSON-RPC errors that say the call was wrong, not the server: never the tool's breaker's
 * business. JSON-RPC 2.0's own codes (parse error, invalid request, method not found, invalid
 * params), as the SDK's ErrorCode has them; written here so that no SDK module loads for them.
 */
const CALLER_ERRORS: ReadonlySet<number> = new Set([-32700, -32600, -32601, -32602]);

/**
 * The server answered the call with a JSON-RPC error: a failure of the server (an internal
 * error, or a code of its own) counts against the tool's breaker as a 5xx would; one that says
 * the call itself was wrong is the caller's, as a 4xx. The model is told what the server said.
 */
class ToolErrorAnswer extends HttpStatusError {
  readonly said: string;

  constructor(tool: string, err: McpError) {
    super(`MCP tool "${tool}"`, {
      status: CALLER_ERRORS.has(err.code) ? 400 : 502,
      body: err.message,
    });
    this.said = err.message;
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function asArguments(input: unknown): Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input)
    ? (input as Record<string, unknown>)
    : {};
}

/** The result's text blocks, joined; anything else as JSON, so nothing is silently dropped. */
export function resultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const block of result.content) {
    if (block.type === 'text') parts.push(block.text);
    else parts.push(JSON.stringify(block));
  }
  if (parts.length === 0 && result.structuredContent !== undefined)
    parts.push(JSON.stringify(result.structuredContent));
  return parts.join('\n');
}
