/**
 * What the durable-run tests share: a standalone runtime with `durability` on a real Redis and
 * the test MCP server as `tools`, restartable on the same store as a rescheduled pod is; the
 * own-agent program (durableAgent.ts) as a child process that can be killed mid-run; and the
 * numbers the tests read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import type { McpTestServer } from './mcpServer.ts';
import type { RedisHandle } from './redisServer.ts';
import type { RuntimeStartOptions } from './runtimeProcess.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from './standaloneRuntime.ts';
import { waitFor } from './waitFor.ts';

export const KEY_A = 'bw-durable-key-a';
export const KEY_B = 'bw-durable-key-b';
export const JOURNAL_PREFIX = 'breakwater:run:tests/durable';
const AGENT = fileURLToPath(new URL('./durableAgent.ts', import.meta.url));

export interface DurableSetup {
  readonly simUrl: string;
  readonly redis: RedisHandle;
  readonly mcp: McpTestServer;
}

/** The policy: the simulator, the MCP server as `tools`, journals in `redis`. */
export function durablePolicy(
  setup: DurableSetup,
  change: (d: Mutable<PolicyDocument>) => void = () => undefined,
): PolicyDocument {
  return policyDocument(setup.simUrl, (d) => {
    d.mcpServers = [
      {
        name: 'tools',
        url: setup.mcp.url,
        timeoutMs: 20_000,
        maxConcurrent: 10,
        onUnknownOutcome: 'Fail',
      },
    ];
    d.durability = {
      store: { redis: { address: setup.redis.address } },
      retentionMs: 3_600_000,
      encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      keyPrefix: JOURNAL_PREFIX,
    };
    change(d);
  });
}

/**
 * A runtime on the durable policy, with the journal key as a file and two client keys; `env`
 * adds to its environment, and `ownGroup` puts it in a process group of its own.
 */
export async function durableRuntime(
  setup: DurableSetup,
  env: Readonly<Record<string, string>> = {},
  options: RuntimeStartOptions & { readonly policy?: (d: Mutable<PolicyDocument>) => void } = {},
): Promise<StandaloneRuntime> {
  const { policy, ...start } = options;
  const dir = mkdtempSync(join(tmpdir(), 'bw-journal-key-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, `${Buffer.alloc(32, 7).toString('base64')}\n`);
  const rt = await standaloneRuntime(
    durablePolicy(setup, policy),
    {
      BREAKWATER_DURABILITY_KEY_FILE: keyFile,
      BREAKWATER_CLIENT_KEYS: `${KEY_A},${KEY_B}`,
      ...env,
    },
    start,
  );
  await toolsListed(rt.runtime.url);
  return {
    ...rt,
    stop: async () => {
      await rt.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * SIGKILL, as a lost node or a forced pod deletion: nothing is drained. A runtime in a group
 * of its own is killed with its whole group.
 */
export async function killRuntime(rt: StandaloneRuntime, group = false): Promise<void> {
  const pid = rt.runtime.child.pid;
  if (group && pid !== undefined) process.kill(-pid, 'SIGKILL');
  else rt.runtime.child.kill('SIGKILL');
  await rt.runtime.exited;
  await rt.stop();
}

/** Waits until the runtime lists the MCP server's tools (it connects in the background). */
async function toolsListed(url: string): Promise<void> {
  await waitFor(
    async () => {
      const client = new Client({ name: 'probe', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${url}/mcp/tools`), {
          requestInit: { headers: { authorization: `Bearer ${KEY_A}` } },
        }),
      );
      const { tools } = await client.listTools();
      await client.close();
      return tools.some((t) => t.name === 'file_ticket');
    },
    { timeoutMs: 10_000, intervalMs: 100, description: 'the runtime to list the MCP tools' },
  );
}

export interface AgentStep {
  readonly step?: number;
  readonly messageId?: string;
  readonly isError?: boolean;
  readonly text?: string;
  readonly finished?: boolean;
}

export interface AgentProcess {
  readonly lines: AgentStep[];
  readonly child: ChildProcess;
  readonly stderr: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Waits for the line of step `n`. */
  step(n: number): Promise<AgentStep>;
  kill(): Promise<void>;
}

/** The own-agent program on `url`, naming run `run` (env: see durableAgent.ts). */
export function startAgent(
  url: string,
  run: string,
  env: Readonly<Record<string, string>> = {},
): AgentProcess {
  const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', AGENT], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      RUNTIME_URL: url,
      API_KEY: KEY_A,
      RUN_ID: run,
      MODEL: PRIMARY_MODEL,
      ...env,
    },
  });
  const lines: AgentStep[] = [];
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as AgentStep);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    lines,
    child,
    stderr,
    exited,
    step: (n) =>
      waitFor(() => lines.find((l) => l.step === n), {
        timeoutMs: 30_000,
        intervalMs: 20,
        description: `the agent to finish step ${String(n)} (stderr: ${stderr.join('')})`,
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Waits for the agent to finish the run; its exit code must be 0. */
export async function finished(agent: AgentProcess): Promise<AgentStep[]> {
  const code = await agent.exited;
  if (code !== 0) throw new Error(`the agent exited ${String(code)}: ${agent.stderr.join('')}`);
  return agent.lines.filter((l) => l.step !== undefined);
}

/** One tool call of a tool run, as its caller saw it. */
export interface ToolStep {
  readonly step: number;
  readonly isError: boolean;
  readonly text: string;
}

/**
 * A run of tool calls alone, as an agent that files one ticket per step does (and as an outside
 * attacker drove the journal): the MCP SDK on `/mcp/tools`, one attempt, `file_ticket` with the
 * title `step N of <run>` — the same request at each start, so a resumed run matches by place.
 * `before(n)` runs before step n; a call that fails is made again after `retry(n, error)`
 * resolves true (false: the run stops there, the error thrown).
 */
export async function toolRun(
  url: string,
  run: string,
  steps: number,
  hooks: {
    readonly before?: (step: number) => Promise<void>;
    readonly retry?: (step: number, error: unknown) => Promise<boolean>;
  } = {},
): Promise<ToolStep[]> {
  const headers = { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() };
  const client = new Client({ name: 'tool-run', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp/tools`), {
      requestInit: { headers: { authorization: `Bearer ${KEY_A}`, ...headers } },
    }),
  );
  const out: ToolStep[] = [];
  try {
    for (let step = 1; step <= steps; step++) {
      await hooks.before?.(step);
      for (;;) {
        try {
          const result = await client.callTool({
            name: 'file_ticket',
            arguments: { title: `step ${String(step)} of ${run}` },
          });
          const content = result.content as { text?: string }[];
          out.push({
            step,
            isError: result.isError === true,
            text: content.map((c) => c.text ?? '').join(' '),
          });
          break;
        } catch (err) {
          if (!(await (hooks.retry?.(step, err) ?? Promise.resolve(false)))) throw err;
        }
      }
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return out;
}

/** Tickets filed per step of `run` (titles `step N of <run>`), steps 1..`steps`. */
export function ticketsByStep(mcp: McpTestServer, run: string, steps: number): number[] {
  return Array.from(
    { length: steps },
    (_, i) => mcp.effects.get(`file_ticket:step ${String(i + 1)} of ${run}`) ?? 0,
  );
}
