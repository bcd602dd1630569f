/**
 * The MCP part of `make bench-runtime`, in the same run as the rest: one tool call through the
 * runtime's `/mcp/<name>` (client keys, the guard — the tool's breaker, the server's bulkhead
 * and timeout — the loop breaker, metrics) beside the same call made directly to the same MCP
 * server; both with the official SDK's client on a kept session, sequential, alternating, each
 * call's input different (as an agent's are: the loop breaker has nothing to stop). Added p50
 * is the runtime path's median minus the direct one's.
 */
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
}) {
  const server = await startMcpServer();
  const file = join(o.dir, 'mcp.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...o.policy,
      mcpServers: [{ name: 'bench', url: server.url, timeoutMs: 10_000, maxConcurrent: 10 }],
    }),
  );
  const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], o.env);
  const direct = new Client({ name: 'bench', version: '1' });
  const guarded = new Client({ name: 'bench', version: '1' });
  try {
    await direct.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    await guarded.connect(
      new StreamableHTTPClientTransport(new URL(`${runtime.url}/mcp/bench`), {
        requestInit: { headers: { 'x-api-key': o.clientKey } },
      }),
    );
    // The runtime lists the server's tools in the background: wait until it has.
    for (let i = 0; i < 100 && (await guarded.listTools()).tools.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const times = { direct: [] as number[], guarded: [] as number[] };
    let errors = 0;
    for (let i = 0; i < WARMUP + CALLS; i++) {
      for (const [name, client] of [
        ['direct', direct],
        ['guarded', guarded],
      ] as const) {
        const started = performance.now();
        const result = await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
        const took = performance.now() - started;
        if (result.isError === true) errors++;
        if (i >= WARMUP) times[name].push(took);
      }
    }
    const p50 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    const p99 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        0.99,
      );
    return {
      method:
        'tools/call of one MCP tool (the official SDK client, kept sessions, sequential, alternating, inputs all different) through the runtime /mcp/<name> vs straight to the same server',
      calls: CALLS,
      errors,
      directP50Ms: round3(p50(times.direct)),
      guardedP50Ms: round3(p50(times.guarded)),
      directP99Ms: round3(p99(times.direct)),
      guardedP99Ms: round3(p99(times.guarded)),
      p50AddedMs: round3(p50(times.guarded) - p50(times.direct)),
    };
  } finally {
    await Promise.all([direct.close(), guarded.close()]);
    await runtime.stop();
    await server.stop();
  }
}
