/**
 * The runtime's GenAI telemetry as a real OpenTelemetry Collector receives it: the Collector
 * built from its Go modules with the collector builder (tools/collector/build-collector.sh:
 * an OTLP receiver, a file exporter), the runtime pointed at it over OTLP, calls made to the
 * simulator, and what the Collector wrote read back: span and metric names, attributes and
 * values against the calls made (tokens against the simulator's usage); and the span tree of
 * one bundled-agent run that calls an MCP tool, and of one `tools/call` through `/mcp/<name>`,
 * each in the trace its caller sent; a durable run's `tools/call` its journal answered is
 * marked replayed. Spans over both of OTLP/HTTP's encodings: the same spans, of every kind of
 * value, written by the runtime as protobuf (otlpProtoSpans.ts) and as JSON (otlpJsonSpans.ts),
 * read by the Collector as the same.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import {
  attr,
  SPAN_KIND,
  startCollector,
  type OtelCollector,
  type Span,
} from '../support/otelCollector.ts';
import { startRedis } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import fc from 'fast-check';
import { exportRequest } from '../../runtime/src/telemetry/otlpJsonSpans.ts';
import { exportRequestProto } from '../../runtime/src/telemetry/otlpProtoSpans.ts';
import { spanArb, spansOf } from '../support/otlpSpanArbitraries.ts';

let collector: OtelCollector | undefined;
let sim: SimulatorHandle | undefined;
let runtime: StandaloneRuntime | undefined;
let mcp: McpTestServer | undefined;
const spansWritten = (service?: string): Span[] => collector?.spans(service) ?? [];
const latestMetric = (name: string, service?: string) => collector?.latestMetric(name, service);

/** A caller's span: a W3C `traceparent` in a new trace, and the ids to find its children by. */
function callerSpan(): { traceparent: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** The spans of one trace written so far, once there are at least `count`. */
async function traceOf(traceId: string, count: number, what: string): Promise<Span[]> {
  return waitFor(
    () => {
      const spans = spansWritten().filter((s) => s.traceId === traceId);
      return spans.length >= count ? spans : undefined;
    },
    { timeoutMs: 20_000, description: `${String(count)} spans of ${what} from the Collector` },
  );
}

/** The events of an agent's event stream, in order. */
function events(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
      return { event, data };
    });
}

const { INTERNAL, SERVER, CLIENT } = SPAN_KIND;
const OTEL_ENV = (service = 'breakwater-collector-test'): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: collector?.endpoint ?? '',
  OTEL_SERVICE_NAME: service,
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_METRIC_EXPORT_INTERVAL: '300',
});

beforeAll(async () => {
  collector = await startCollector();
  sim = await startSimulator({ seed: 41 });
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await mcp?.stop();
  await sim?.stop();
  await collector?.stop();
});

describe('the runtime’s GenAI telemetry in a real OpenTelemetry Collector', () => {
  it.each(['http/protobuf', 'http/json'])(
    'arrives over %s as chat spans and gen_ai metrics whose tokens are the simulator’s usage',
    async (protocol) => {
      if (sim === undefined) throw new Error('no simulator');
      await runtime?.stop();
      const service = `breakwater-collector-${protocol.replace('/', '-')}`;
      runtime = await standaloneRuntime(policyDocument(sim.url), {
        ...OTEL_ENV(service),
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      });
      const response = await fetch(`${runtime.runtime.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: PRIMARY_MODEL,
          max_tokens: 24,
          messages: [{ role: 'user', content: 'What is a breakwater?' }],
        }),
      });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as {
        id: string;
        model: string;
        stop_reason: string;
        usage: { input_tokens: number; output_tokens: number };
      };

      const span = await waitFor(
        () => spansWritten(service).find((s) => s.name === `chat ${PRIMARY_MODEL}`),
        {
          timeoutMs: 20_000,
          description: 'the chat span in the file the Collector writes',
        },
      );
      expect(span.kind).toBe(3); // client
      expect(attr(span.attributes, 'gen_ai.operation.name')).toBe('chat');
      expect(attr(span.attributes, 'gen_ai.provider.name')).toBe('anthropic');
      expect(attr(span.attributes, 'gen_ai.request.model')).toBe(PRIMARY_MODEL);
      expect(attr(span.attributes, 'gen_ai.request.max_tokens')).toBe(24);
      expect(attr(span.attributes, 'gen_ai.response.id')).toBe(answer.id);
      expect(attr(span.attributes, 'gen_ai.response.model')).toBe(answer.model);
      expect(attr(span.attributes, 'gen_ai.usage.input_tokens')).toBe(answer.usage.input_tokens);
      expect(attr(span.attributes, 'gen_ai.usage.output_tokens')).toBe(answer.usage.output_tokens);
      expect(attr(span.attributes, 'server.address')).toBe(new URL(sim.url).hostname);

      const usage = await waitFor(() => latestMetric('gen_ai.client.token.usage', service), {
        timeoutMs: 20_000,
        description: 'gen_ai.client.token.usage in the file the Collector writes',
      });
      expect(usage.unit).toBe('{token}');
      const point = (type: string) =>
        usage.histogram?.dataPoints.find((p) => attr(p.attributes, 'gen_ai.token.type') === type);
      expect(Number(point('input')?.count)).toBe(1);
      expect(point('input')?.sum).toBe(answer.usage.input_tokens);
      expect(point('output')?.sum).toBe(answer.usage.output_tokens);
      expect(point('input')?.explicitBounds?.at(-1)).toBe(67108864);
      expect(attr(point('input')?.attributes, 'gen_ai.provider.name')).toBe('anthropic');
      expect(attr(point('input')?.attributes, 'gen_ai.request.model')).toBe(PRIMARY_MODEL);

      const duration = latestMetric('gen_ai.client.operation.duration', service);
      expect(duration?.unit).toBe('s');
      expect(Number(duration?.histogram?.dataPoints[0]?.count)).toBe(1);
      expect(duration?.histogram?.dataPoints[0]?.explicitBounds?.[0]).toBe(0.01);
    },
  );

  it('reads the runtime’s protobuf for spans as the same spans as its JSON, for every kind of value', async () => {
    await runtime?.stop();
    runtime = undefined;
    // The span exports only: a runtime's metrics may come in between.
    const traceExports = () =>
      (collector?.exports() ?? []).filter((e) => Object.hasOwn(e as object, 'resourceSpans'));
    const post = async (body: Uint8Array, type: string) => {
      const before = traceExports().length;
      const answer = await fetch(`${collector?.endpoint ?? ''}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect(answer.status).toBe(200);
      return waitFor(() => traceExports()[before], {
        timeoutMs: 10_000,
        description: `the ${type} export in the file the Collector writes`,
      });
    };
    const batches = fc.sample(fc.array(spanArb, { minLength: 1, maxLength: 6 }), {
      seed: 52_0058,
      numRuns: 12,
    });
    for (const plans of batches) {
      const spans = spansOf(plans);
      const fromJson = await post(exportRequest(spans), 'application/json');
      const fromProto = await post(exportRequestProto(spans), 'application/x-protobuf');
      expect(fromProto).toEqual(fromJson);
      // And the spans are there: not two empty requests.
      expect(JSON.stringify(fromProto)).toContain(spans[0]?.spanContext().spanId);
    }
  });

  it('traces an agent run as invoke_agent over its chat and execute_tool spans, and a tools/call through /mcp as a server span, each in its caller’s trace', async () => {
    if (sim === undefined) throw new Error('no simulator');
    const simUrl = sim.url;
    await runtime?.stop();
    runtime = undefined;
    const tools = await startMcpServer();
    mcp = tools;
    runtime = await standaloneRuntime(
      policyDocument(simUrl, (d) => {
        d.agent = { namespace: 'collector', name: 'support-agent', generation: 1 };
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
      }),
      // The runtime's protobuf writer (the first test has both encodings).
      { ...OTEL_ENV(), OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
    );
    const url = runtime.runtime.url;
    const invoke = (headers: Record<string, string>, body: Record<string, unknown>) =>
      fetch(`${url}/v1/agent/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    // The runtime lists the server's tools in the background: the model is offered them after.
    await waitFor(
      async () => {
        const answer = (await (
          await invoke({}, { input: 'Please use tool local__echo' })
        ).json()) as {
          output?: string;
        };
        return answer.output?.startsWith('local__echo returned') === true ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, description: 'the runtime to offer local__echo' },
    );

    // One run, streamed, so that the tool call's id is seen as the model made it.
    const caller = callerSpan();
    const response = await invoke(
      { traceparent: caller.traceparent },
      { input: 'Please use tool local__echo', sessionId: 'collector-session', stream: true },
    );
    expect(response.status).toBe(200);
    const told = events(await response.text());
    const toolCall = told.find((e) => e.event === 'tool_call')?.data;
    const done = told.find((e) => e.event === 'done')?.data as
      | {
          model: string;
          stopReason: string;
          usage: { input_tokens: number; output_tokens: number };
        }
      | undefined;
    expect(toolCall?.name).toBe('local__echo');
    expect(done?.stopReason).toBe('end_turn');

    const spans = await traceOf(caller.traceId, 5, 'the agent run');
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0] as Span;
    };
    const request = one('POST /v1/agent/invoke');
    const agent = one('invoke_agent support-agent');
    const tool = one('execute_tool local__echo');
    const chats = spans.filter((s) => s.name === `chat ${PRIMARY_MODEL}`);
    expect([request.kind, request.parentSpanId]).toEqual([SERVER, caller.spanId]);
    expect([agent.kind, agent.parentSpanId]).toEqual([INTERNAL, request.spanId]);
    expect([tool.kind, tool.parentSpanId]).toEqual([INTERNAL, agent.spanId]);
    // The turn that asked for the tool, and the one that read its result.
    expect(chats.map((c) => [c.kind, c.parentSpanId])).toEqual([
      [CLIENT, agent.spanId],
      [CLIENT, agent.spanId],
    ]);
    expect(
      Object.fromEntries(
        (agent.attributes ?? []).map((a) => [a.key, attr(agent.attributes, a.key)]),
      ),
    ).toEqual({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.agent.name': 'support-agent',
      'gen_ai.agent.id': 'collector/support-agent',
      'gen_ai.request.model': PRIMARY_MODEL,
      'gen_ai.conversation.id': 'collector-session',
      'gen_ai.response.model': done?.model,
      'gen_ai.response.finish_reasons': { values: [{ stringValue: 'end_turn' }] },
      // No cache_control in the request: the simulator reports no cache reads or writes.
      'gen_ai.usage.input_tokens': done?.usage.input_tokens,
      'gen_ai.usage.output_tokens': done?.usage.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': 0,
      'gen_ai.usage.cache_creation.input_tokens': 0,
    });
    const chatOutput = chats.reduce(
      (sum, c) => sum + Number(attr(c.attributes, 'gen_ai.usage.output_tokens')),
      0,
    );
    expect(chatOutput).toBe(done?.usage.output_tokens);
    expect(attr(tool.attributes, 'gen_ai.operation.name')).toBe('execute_tool');
    expect(attr(tool.attributes, 'gen_ai.tool.name')).toBe('local__echo');
    expect(attr(tool.attributes, 'gen_ai.tool.type')).toBe('extension');
    expect(attr(tool.attributes, 'gen_ai.tool.call.id')).toBe(toolCall?.id);
    expect(attr(tool.attributes, 'error.type')).toBeUndefined();
    expect(attr(tool.attributes, 'breakwater.replayed')).toBeUndefined();

    // A team's own agent calls the tool through /mcp, its trace context in params._meta.
    const client = new Client({ name: 'team-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/local`)));
    try {
      const mcpCaller = callerSpan();
      const echoed = await client.callTool({
        name: 'echo',
        arguments: { text: 'through the runtime' },
        _meta: { traceparent: mcpCaller.traceparent },
      });
      expect(echoed.isError).toBeFalsy();
      const notAllowed = callerSpan();
      const refused = await client.callTool({
        name: 'secret',
        arguments: {},
        _meta: { traceparent: notAllowed.traceparent },
      });
      expect(refused.isError).toBe(true);

      const [served] = await traceOf(mcpCaller.traceId, 1, 'the tools/call');
      expect(served?.name).toBe('tools/call echo');
      expect([served?.kind, served?.parentSpanId]).toEqual([SERVER, mcpCaller.spanId]);
      expect(attr(served?.attributes, 'mcp.method.name')).toBe('tools/call');
      expect(attr(served?.attributes, 'gen_ai.operation.name')).toBe('execute_tool');
      expect(attr(served?.attributes, 'gen_ai.tool.name')).toBe('echo');
      expect(attr(served?.attributes, 'mcp.session.id')).toBe(client.transport?.sessionId);
      expect(attr(served?.attributes, 'jsonrpc.request.id')).toMatch(/^\d+$/);
      expect(attr(served?.attributes, 'error.type')).toBeUndefined();
      const [denied] = await traceOf(notAllowed.traceId, 1, 'the refused tools/call');
      expect(denied?.name).toBe('tools/call secret');
      expect(attr(denied?.attributes, 'error.type')).toBe('NotAllowed');
      expect(denied?.status?.code).toBe(2); // error
    } finally {
      await client.close();
    }
  });

  it('marks a tools/call of a durable run its journal answered as replayed, the tool not called again', async () => {
    if (sim === undefined) throw new Error('no simulator');
    const simUrl = sim.url;
    await runtime?.stop();
    runtime = undefined;
    mcp ??= await startMcpServer();
    const tools = mcp;
    const redis = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'bw-otelcol-durable-'));
    writeFileSync(join(dir, 'key'), Buffer.alloc(32, 7));
    try {
      runtime = await standaloneRuntime(
        policyDocument(simUrl, (d) => {
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
            store: { redis: { address: redis.address } },
            retentionMs: 600_000,
            encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
            keyPrefix: 'breakwater:run:tests/collector',
          };
        }),
        { ...OTEL_ENV(), BREAKWATER_DURABILITY_KEY_FILE: join(dir, 'key') },
      );
      const url = runtime.runtime.url;
      const run = randomUUID();
      // Each start of the team's agent is an attempt of the run: the second replays the first.
      const callInAttempt = async (): Promise<string> => {
        const headers = { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() };
        const client = new Client({ name: 'durable-agent', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(`${url}/mcp/local`), {
            requestInit: { headers },
          }),
        );
        try {
          const caller = callerSpan();
          const answer = await client.callTool({
            name: 'echo',
            arguments: { text: 'once' },
            _meta: { traceparent: caller.traceparent },
          });
          expect(answer.isError).toBeFalsy();
          return caller.traceId;
        } finally {
          await client.close();
        }
      };
      tools.calls.clear();
      const live = await callInAttempt();
      const again = await callInAttempt();
      expect(tools.calls.get('echo')).toBe(1);
      const [first] = await traceOf(live, 1, 'the live tools/call');
      const [second] = await traceOf(again, 1, 'the replayed tools/call');
      expect([first?.name, attr(first?.attributes, 'breakwater.replayed')]).toEqual([
        'tools/call echo',
        undefined,
      ]);
      expect([second?.name, attr(second?.attributes, 'breakwater.replayed')]).toEqual([
        'tools/call echo',
        'true',
      ]);
    } finally {
      await runtime?.stop();
      runtime = undefined;
      await redis.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
