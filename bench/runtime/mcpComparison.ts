/**
 * The MCP part of `make bench-runtime`, in the same run as the rest: one tool call through the
 * runtime's `/mcp/<name>` (client keys, the guard — the tool's breaker, the server's bulkhead
 * and timeout — the loop breaker, metrics) beside the same call made directly to the same MCP
 * server; both with the official SDK's client on a kept session, sequential, alternating, each
 * call's input different (as an agent's are: the loop breaker has nothing to stop). Added p50
 * is the runtime path's median minus the direct one's.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer } from '../../test/support/mcpServer.ts';
import { startRuntime } from '../../test/support/runtimeProcess.ts';
import { percentile } from '../../tools/stats/samples.ts';

const CALLS = 2_000;
const WARMUP = 300;

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export async function mcpComparison(o: {
  readonly policy: Readonly<Record<string, unknown>>;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly clientKey: string;
  /** Starts the bare pass-through proxy in front of `port`. */
  readonly startProxy: (port: number) => Promise<{ child: ChildProcess; port: number }>;
}) {
  const server = await startMcpServer();
  const serverUrl = new URL(server.url);
  const file = join(o.dir, 'mcp.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...o.policy,
      mcpServers: [
        {
          name: 'bench',
          url: server.url,
          timeoutMs: 10_000,
          maxConcurrent: 10,
          onUnknownOutcome: 'Fail',
        },
      ],
    }),
  );
  const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], o.env);
  const proxy = await o.startProxy(Number(serverUrl.port));
  const paths = {
    direct: new Client({ name: 'bench', version: '1' }),
    proxy: new Client({ name: 'bench', version: '1' }),
    guarded: new Client({ name: 'bench', version: '1' }),
  };
  try {
    await paths.direct.connect(new StreamableHTTPClientTransport(serverUrl));
    await paths.proxy.connect(
      new StreamableHTTPClientTransport(
        new URL(`http://127.0.0.1:${proxy.port}${serverUrl.pathname}`),
      ),
    );
    await paths.guarded.connect(
      new StreamableHTTPClientTransport(new URL(`${runtime.url}/mcp/bench`), {
        requestInit: { headers: { 'x-api-key': o.clientKey } },
      }),
    );
    // The runtime lists the server's tools in the background: wait until it has.
    for (let i = 0; i < 100 && (await paths.guarded.listTools()).tools.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const times = { direct: [] as number[], proxy: [] as number[], guarded: [] as number[] };
    let errors = 0;
    for (let i = 0; i < WARMUP + CALLS; i++) {
      for (const name of ['direct', 'proxy', 'guarded'] as const) {
        const started = performance.now();
        const result = await paths[name].callTool({
          name: 'echo',
          arguments: { text: `call ${i}` },
        });
        const took = performance.now() - started;
        if (result.isError === true) errors++;
        if (i >= WARMUP) times[name].push(took);
      }
    }
    const at = (xs: number[], q: number) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        q,
      );
    return {
      method:
        'tools/call of one MCP tool (the official SDK client, kept sessions, sequential, in turn, inputs all different): straight to the server, through the bare node:http pass-through proxy, and through the runtime /mcp/<name>',
      calls: CALLS,
      errors,
      directP50Ms: round3(at(times.direct, 0.5)),
      proxyP50Ms: round3(at(times.proxy, 0.5)),
      guardedP50Ms: round3(at(times.guarded, 0.5)),
      directP99Ms: round3(at(times.direct, 0.99)),
      proxyP99Ms: round3(at(times.proxy, 0.99)),
      guardedP99Ms: round3(at(times.guarded, 0.99)),
      p50AddedMs: round3(at(times.guarded, 0.5) - at(times.direct, 0.5)),
      proxyP50AddedMs: round3(at(times.proxy, 0.5) - at(times.direct, 0.5)),
    };
  } finally {
    await Promise.all(Object.values(paths).map((c) => c.close()));
    proxy.child.kill('SIGTERM');
    await runtime.stop();
    await server.stop();
  }
}
