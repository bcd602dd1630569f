/**
 * A durable run of the bundled agent executed again (as on the replica that takes it over), as
 * a real OpenTelemetry Collector receives it: the second execution's `invoke_agent` span holds
 * its model turns answered from the journal, marked replayed, and the `execute_tool` span of
 * the tool call the journal answered, marked replayed too; the MCP server is called once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import {
  attr,
  SPAN_KIND,
  startCollector,
  type OtelCollector,
  type Span,
} from '../support/otelCollector.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const PREFIX = 'breakwater:run:tests/replayed-spans';
let collector: OtelCollector | undefined;
let sim: SimulatorHandle | undefined;
let mcp: McpTestServer | undefined;
let redis: RedisHandle | undefined;
let runtime: StandaloneRuntime | undefined;
let dir: string | undefined;

beforeAll(async () => {
  collector = await startCollector();
  sim = await startSimulator({ seed: 43 });
  mcp = await startMcpServer();
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'bw-replayed-spans-'));
  writeFileSync(join(dir, 'key'), Buffer.alloc(32, 7));
  const tools = mcp;
  const store = redis;
  runtime = await standaloneRuntime(
    policyDocument(sim.url, (d) => {
      d.agent = { namespace: 'collector', name: 'durable-agent', generation: 1 };
      d.mcpServers = [
        {
          name: 'local',
          url: tools.url,
          tools: ['echo'],
          timeoutMs: 5_000,
          maxConcurrent: 2,
          onUnknownOutcome: 'Fail',
        },
      ];
      d.durability = {
        store: { redis: { address: store.address } },
        retentionMs: 600_000,
        encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
        keyPrefix: PREFIX,
      };
    }),
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'breakwater-replayed-spans-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRICS_EXPORTER: 'none',
      BREAKWATER_DURABILITY_KEY_FILE: join(dir, 'key'),
    },
  );
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await mcp?.stop();
  await sim?.stop();
  await redis?.remove();
  await collector?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Spans of `traceId` once `done` holds of them. */
function traceWhere(traceId: string, done: (spans: Span[]) => boolean): Promise<Span[]> {
  return waitFor(
    () => {
      const spans = (collector?.spans() ?? []).filter((s) => s.traceId === traceId);
      return done(spans) ? spans : undefined;
    },
    { timeoutMs: 20_000, description: `the spans of trace ${traceId} from the Collector` },
  );
}

const named = (spans: Span[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));

describe('a durable agent run executed again, in a real OpenTelemetry Collector', () => {
  it('marks its replayed model turns and its replayed tool call under its invoke_agent span', async () => {
    const url = runtime?.runtime.url ?? '';
    const invoke = async (headers: Record<string, string>) => {
      const response = await fetch(`${url}/v1/agent/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ input: 'Please use tool local__echo' }),
      });
      const body = (await response.json()) as { output?: string };
      return {
        status: response.status,
        output: body.output ?? '',
        run: response.headers.get('breakwater-run-id'),
      };
    };
    // The runtime lists the server's tools in the background: the model is offered them after.
    await waitFor(
      async () => ((await invoke({})).output.startsWith('local__echo returned') ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100, description: 'the runtime to offer local__echo' },
    );
    mcp?.calls.clear();

    const traced = () => {
      const traceId = randomBytes(16).toString('hex');
      return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
    };
    const first = traced();
    const live = await invoke({
      'idempotency-key': 'replayed-spans',
      traceparent: first.traceparent,
    });
    expect([live.status, live.output.startsWith('local__echo returned')]).toEqual([200, true]);
    const run = live.run ?? '';
    expect(run).not.toBe('');
    const liveSpans = await traceWhere(first.traceId, (s) => named(s, 'agent.run').length === 1);
    const liveTool = named(liveSpans, 'execute_tool local__echo');
    expect(liveTool.map((s) => attr(s.attributes, 'breakwater.replayed'))).toEqual([undefined]);
    expect(mcp?.calls.get('echo')).toBe(1);

    // Its record gone, the run executes again: every step comes from its journal.
    const client = createClient({ url: `redis://${redis?.address ?? ''}` });
    await client.connect();
    await client.del(`${PREFIX}:{${run}}:agent`);
    client.destroy();
    const second = traced();
    const again = await invoke({
      'idempotency-key': 'replayed-spans',
      traceparent: second.traceparent,
    });
    expect([again.status, again.run, again.output]).toEqual([200, run, live.output]);
    const spans = await traceWhere(second.traceId, (s) => named(s, 'agent.run').length === 1);
    const [execution] = named(spans, 'agent.run');
    const [agent] = named(spans, 'invoke_agent durable-agent');
    expect(agent?.parentSpanId).toBe(execution?.spanId);
    const [tool] = named(spans, 'execute_tool local__echo');
    expect([tool?.kind, tool?.parentSpanId]).toEqual([SPAN_KIND.INTERNAL, agent?.spanId]);
    expect(attr(tool?.attributes, 'breakwater.replayed')).toBe('true');
    expect(attr(tool?.attributes, 'gen_ai.tool.call.id')).toEqual(
      attr(liveTool[0]?.attributes, 'gen_ai.tool.call.id'),
    );
    // Both model turns answered from the journal: marked, and no client span, under the run.
    const turns = named(spans, `chat ${PRIMARY_MODEL}`);
    expect(
      turns.map((s) => [s.kind, s.parentSpanId, attr(s.attributes, 'breakwater.replayed')]),
    ).toEqual([
      [SPAN_KIND.INTERNAL, agent?.spanId, 'true'],
      [SPAN_KIND.INTERNAL, agent?.spanId, 'true'],
    ]);
    expect(mcp?.calls.get('echo')).toBe(1);
  });
});
