/**
 * One MCP server as the runtime holds it: a session over Streamable HTTP with the official
 * SDK's client, the tools it lists (cached; listed again when the server says they changed and
 * when a session is opened), and its state for the pod report — reachable or not, why, since
 * when. A server that is down at start, or goes down, is tried again with backoff (1 s growing
 * to 30 s) while the agent stays Ready; a call that finds its session gone (the server
 * restarted: 404 for the session id) opens a new one and is sent once more.
 *
 * Headers come from the server's mounted Secret (`headersSecretRef`), one file per header,
 * read again at most once a second on use (mountedFiles.ts): a rotated token reaches the next
 * request.
 *
 * The SDK's client holds the session (initialize, `tools/list`, list-changed notifications);
 * each `tools/call` goes out on the session's wire directly (toolCallWire.ts says why).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpServerSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import { MountedFiles } from '../provider/mountedFiles.ts';
import { upstreamFetch, type UpstreamFetch } from '../provider/upstreamFetch.ts';
import type { Logger } from '../telemetry/logger.ts';
import { isMcpError, loadMcpSdk } from './mcpSdk.ts';
import { callToolOnWire, McpHttpError } from './toolCallWire.ts';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';

/** A tool as listed: what the model is offered, and what `/mcp/<name>` lists on. */
export type ListedTool = Pick<
  Tool,
  'name' | 'title' | 'description' | 'inputSchema' | 'outputSchema' | 'annotations'
>;

export interface LinkState {
  readonly reachable: boolean;
  /** The tools the server lists that the agent may call. */
  readonly tools: readonly ListedTool[];
  readonly error?: string;
  /** Clock time of the last change of `reachable`. */
  readonly since: number;
}

export interface LinkDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The mounted headers Secret's directory; undefined without one. */
  readonly headersDir: string | undefined;
  /** The state changed (reachability, tools). */
  readonly onChange: () => void;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
const CLIENT_INFO = { name: 'breakwater-runtime', version: '1' };

/** An open session: the SDK's client and the transport that knows its id and version. */
interface Session {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
}

export class McpServerLink {
  #settings: McpServerSettings;
  readonly #deps: LinkDeps;
  #session: Session | undefined;
  #connecting: Promise<Session> | undefined;
  #listed: readonly ListedTool[] = [];
  #state: LinkState;
  #retryMs = FIRST_RETRY_MS;
  #retry: Cancel | undefined;
  #closed = false;
  /** The server's keep-alive connection pool (undici's request API, as for the provider). */
  readonly #transport: UpstreamFetch;
  /** The server URL's path and query, where each call is posted. */
  readonly #path: string;
  /** The headers Secret's files, one per header; undefined without one. */
  readonly #headerFiles: MountedFiles | undefined;

  constructor(settings: McpServerSettings, deps: LinkDeps) {
    this.#settings = settings;
    this.#deps = deps;
    this.#transport = upstreamFetch(settings.url, {});
    const url = new URL(settings.url);
    this.#path = `${url.pathname}${url.search}`;
    this.#headerFiles =
      deps.headersDir === undefined
        ? undefined
        : new MountedFiles(deps.headersDir, undefined, deps.clock);
    this.#state = {
      reachable: false,
      tools: [],
      error: 'not connected yet',
      since: deps.clock.now(),
    };
  }

  get settings(): McpServerSettings {
    return this.#settings;
  }

  /** Settings read per call (timeout, bulkhead, breaker) change in place. */
  update(settings: McpServerSettings): void {
    this.#settings = settings;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Whether the allow-list lets the agent call `tool` (unset: every listed tool). */
  allows(tool: string): boolean {
    const allowed = this.#settings.tools;
    return allowed === undefined || allowed.includes(tool);
  }

  /** Starts connecting; failures are retried with backoff, never thrown. */
  start(): void {
    void this.#open().catch(() => undefined);
  }

  /** Calls `tool` on the server; a session the server no longer knows is opened anew once. */
  async call(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const session = await this.#open();
    try {
      return await this.#send(session, tool, args, signal);
    } catch (err) {
      if (err instanceof McpHttpError && err.status === 404 && !signal.aborted) {
        this.#deps.logger.info(
          { server: this.#settings.name },
          'MCP session expired; opening a new one',
        );
        this.#drop(session);
        return await this.#send(await this.#open(), tool, args, signal);
      }
      // The server answered (a JSON-RPC error, an HTTP status) or the caller gave up: the
      // session is fine. Anything else is the connection failing: unreachable until a
      // session opens again.
      if (!signal.aborted && !isMcpError(err) && !(err instanceof McpHttpError)) this.#failed(err);
      throw err;
    }
  }

  async #send(
    session: Session,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    return callToolOnWire(
      {
        dispatcher: this.#transport.dispatcher,
        origin: this.#transport.origin,
        path: this.#path,
        sessionId: session.transport.sessionId,
        protocolVersion: session.transport.protocolVersion,
        headers: await this.#currentHeaders(),
      },
      tool,
      args,
      signal,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.();
    const session = this.#session;
    this.#session = undefined;
    await session?.client.close().catch(() => undefined);
    await this.#transport.close().catch(() => undefined);
  }

  /** The open session, or a new one (initialize, then tools/list). */
  #open(): Promise<Session> {
    if (this.#session !== undefined) return Promise.resolve(this.#session);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Session> {
    const { Client, StreamableHTTPClientTransport } = await loadMcpSdk();
    const client = new Client(CLIENT_INFO, {
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (error === null && tools !== null) this.#setTools(tools);
          },
        },
      },
    });
    const transport = new StreamableHTTPClientTransport(new URL(this.#settings.url), {
      fetch: (url, init) => this.#fetchWithHeaders(url, init),
    });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      if (this.#closed) {
        await client.close();
        throw new Error('closed');
      }
      const session = { client, transport };
      this.#session = session;
      this.#retryMs = FIRST_RETRY_MS;
      this.#setTools(tools);
      return session;
    } catch (err) {
      await client.close().catch(() => undefined);
      this.#failed(err);
      throw err;
    }
  }

  #setTools(tools: readonly Tool[]): void {
    this.#listed = tools.map((t) => ({
      name: t.name,
      ...(t.title === undefined ? {} : { title: t.title }),
      ...(t.description === undefined ? {} : { description: t.description }),
      inputSchema: t.inputSchema,
      ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }),
      ...(t.annotations === undefined ? {} : { annotations: t.annotations }),
    }));
    const allowed = this.#listed.filter((t) => this.allows(t.name));
    const was = this.#state;
    this.#state = {
      reachable: true,
      tools: allowed,
      since: was.reachable ? was.since : this.#deps.clock.now(),
    };
    this.#deps.onChange();
  }

  /** The server failed us: unreachable until a session opens again, retried with backoff. */
  #failed(err: unknown): void {
    const message = errorMessage(err);
    const was = this.#state;
    const session = this.#session;
    if (session !== undefined) this.#drop(session);
    this.#state = {
      reachable: false,
      tools: [],
      error: message.slice(0, 300),
      since: was.reachable ? this.#deps.clock.now() : was.since,
    };
    if (was.reachable || was.error !== this.#state.error) {
      this.#deps.logger.warn(
        { server: this.#settings.name, err: message },
        'MCP server unreachable',
      );
      this.#deps.onChange();
    }
    this.#scheduleRetry();
  }

  #drop(session: Session): void {
    if (this.#session === session) this.#session = undefined;
    void session.client.close().catch(() => undefined);
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#retry = this.#deps.clock.setTimeout(() => {
      this.#retry = undefined;
      if (this.#session === undefined && !this.#closed) this.start();
    }, delay);
  }

  async #fetchWithHeaders(url: string | URL, init?: RequestInit): Promise<Response> {
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries(await this.#currentHeaders()))
      headers.set(name, value);
    return this.#transport.fetch(url, { ...init, headers });
  }

  async #currentHeaders(): Promise<Record<string, string>> {
    if (this.#headerFiles === undefined) return {};
    try {
      return Object.fromEntries(await this.#headerFiles.contents());
    } catch (err) {
      this.#deps.logger.warn(
        {
          server: this.#settings.name,
          dir: this.#headerFiles.dir,
          err: errorMessage(err),
        },
        'MCP headers cannot be read; sending none',
      );
      return {};
    }
  }
}
