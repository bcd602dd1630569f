/**
 * OpenTelemetry from the runtime process: with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a
 * collector this test serves, a relayed call's one `chat {model}` span (its failed attempts as
 * events) and an agent's spans per request and per provider attempt arrive over OTLP/HTTP, and a caller's `traceparent` is continued; without it nothing is exported and
 * the caller's trace context is passed to the provider unchanged. The provider here is a
 * small stand-in that records the headers it is sent and fails on request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { startRedis } from '../support/redisServer.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; attributes?: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number };
}

interface TracesRequest {
  resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[];
}

/** The collector: every OTLP/HTTP request body, by path. */
const exported: { path: string; body: unknown }[] = [];
/** The provider: the headers of every call, and how many of the next calls fail with 529. */
const providerCalls: IncomingHttpHeaders[] = [];
let failNext = 0;
let collector: Server;
let provider: Server;
let running: StandaloneRuntime | undefined;

const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const CALLER_TRACEPARENT = `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`;
const SECOND_TRACE_ID = '0af7651916cd43dd8448eb211c80319d';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      resolve(text);
    });
  });
}

function spans(): ExportedSpan[] {
  return exported
    .filter((e) => e.path === '/v1/traces')
    .flatMap((e) =>
      ((e.body as TracesRequest).resourceSpans ?? []).flatMap((r) =>
        (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []),
      ),
    );
}

/** A model call's client span (the GenAI conventions' `chat {model}`), not a replayed step's. */
const CHAT_SPAN = `chat ${PRIMARY_MODEL}`;
const isAttempt = (s: ExportedSpan) =>
  s.name === CHAT_SPAN && attribute(s, 'breakwater.attempt') !== undefined;
const isReplayed = (s: ExportedSpan) =>
  s.name === CHAT_SPAN && attribute(s, 'breakwater.replayed') === 'true';

function attribute(span: ExportedSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
}

/** The `breakwater.attempt` events of a relayed call's span: each failed attempt's attributes. */
function attemptEvents(span: ExportedSpan): Record<string, unknown>[] {
  return (span.events ?? [])
    .filter((e) => e.name === 'breakwater.attempt')
    .map((e) =>
      Object.fromEntries(
        (e.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]] as const),
      ),
    );
}

function waitForSpans(done: (all: ExportedSpan[]) => boolean): Promise<ExportedSpan[]> {
  return waitFor(
    () => {
      const all = spans();
      if (done(all)) return all;
      throw new Error(`the collector holds ${all.map((s) => s.name).join(', ') || 'no span'}`);
    },
    { timeoutMs: 15_000, intervalMs: 50, description: 'the spans' },
  );
}

async function ask(rt: StandaloneRuntime, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${rt.runtime.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: PRIMARY_MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hello' }],
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

let collectorUrl: string;
let providerUrl: string;

beforeAll(async () => {
  collector = createServer((req, res) => {
    void readBody(req).then((text) => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // protobuf or empty: kept as text
      }
      exported.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  provider = createServer((req, res) => {
    void readBody(req).then(() => {
      providerCalls.push(req.headers);
      if (failNext > 0) {
        failNext--;
        res
          .writeHead(529, { 'content-type': 'application/json' })
          .end('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'msg_test',
          type: 'message',
          role: 'assistant',
          model: PRIMARY_MODEL,
          content: [{ type: 'text', text: 'ok' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1 },
        }),
      );
    });
  });
  collectorUrl = await listen(collector);
  providerUrl = await listen(provider);
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  exported.length = 0;
  providerCalls.length = 0;
  failNext = 0;
});

afterAll(async () => {
  await new Promise((resolve) => collector.close(resolve));
  await new Promise((resolve) => provider.close(resolve));
});

const OTEL_ENV = {
  OTEL_SERVICE_NAME: 'breakwater-runtime-test',
  // Read here as JSON; the default protobuf says the same (otlpProtoSpans.property.test.ts,
  // and test/telemetry/otelCollector.test.ts through a real Collector).
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  // Export each batch at once instead of every five seconds.
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
};

describe('with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports one `chat {model}` span per call, its failed attempts as events, continuing the caller’s trace', async () => {
    running = await standaloneRuntime(
      policyDocument(providerUrl, (d) => {
        d.retry = { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 };
      }),
      { ...OTEL_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl },
    );
    failNext = 1; // the first attempt fails, the retry answers
    expect(await ask(running, { traceparent: CALLER_TRACEPARENT })).toBe(200);

    const all = await waitForSpans((s) => s.some((x) => x.traceId === CALLER_TRACE_ID));
    // One span for the call: the request's own is the conventions' client span.
    const ours = all.filter((s) => s.traceId === CALLER_TRACE_ID);
    expect(ours.map((s) => s.name)).toEqual([CHAT_SPAN]);
    const call = ours[0] as ExportedSpan;
    expect(call.parentSpanId).toBe(CALLER_SPAN_ID);
    expect(call.kind).toBe(3); // client
    expect(attribute(call, 'http.response.status_code')).toBe(200);
    expect(attribute(call, 'gen_ai.operation.name')).toBe('chat');
    expect(attribute(call, 'gen_ai.provider.name')).toBe('anthropic');
    expect(attribute(call, 'gen_ai.request.model')).toBe(PRIMARY_MODEL);
    expect(attribute(call, 'gen_ai.request.max_tokens')).toBe(16);
    expect(attribute(call, 'server.address')).toBe(new URL(providerUrl).hostname);
    expect(attribute(call, 'server.port')).toBe(Number(new URL(providerUrl).port));
    expect(attribute(call, 'breakwater.backend')).toBe('default');
    // The span holds the attempt that answered: what the provider said of its answer.
    expect(attribute(call, 'breakwater.attempt')).toBe(2);
    expect(attribute(call, 'breakwater.outcome')).toBe('Success');
    expect(attribute(call, 'error.type')).toBeUndefined();
    expect(attribute(call, 'gen_ai.response.id')).toBe('msg_test');
    expect(attribute(call, 'gen_ai.response.model')).toBe(PRIMARY_MODEL);
    expect(attribute(call, 'gen_ai.response.finish_reasons')).toEqual({
      values: [{ stringValue: 'end_turn' }],
    });
    expect(attribute(call, 'gen_ai.usage.input_tokens')).toBe(3);
    expect(attribute(call, 'gen_ai.usage.output_tokens')).toBe(1);
    // The failed attempt is an event on it, with its class.
    expect(attemptEvents(call)).toEqual([
      {
        'gen_ai.request.model': PRIMARY_MODEL,
        'breakwater.backend': 'default',
        'breakwater.attempt': 1,
        'breakwater.breaker.state': 'allowing',
        'error.type': 'Overloaded',
        'breakwater.outcome': 'OverloadedError',
      },
    ]);
    // The provider is asked within the same trace, every attempt under the call's span.
    expect(providerCalls.map((h) => String(h.traceparent).split('-').slice(1, 3))).toEqual([
      [CALLER_TRACE_ID, call.spanId],
      [CALLER_TRACE_ID, call.spanId],
    ]);
  });

  it('gives a call no attempt answered its class and each attempt an event', async () => {
    running = await standaloneRuntime(
      policyDocument(providerUrl, (d) => {
        d.retry = { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 };
      }),
      { ...OTEL_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl },
    );
    failNext = 2;
    const status = await ask(running, { traceparent: CALLER_TRACEPARENT });
    expect(status).toBeGreaterThanOrEqual(500);
    const all = await waitForSpans((s) => s.some((x) => x.traceId === CALLER_TRACE_ID));
    const ours = all.filter((s) => s.traceId === CALLER_TRACE_ID);
    expect(ours.map((s) => s.name)).toEqual([CHAT_SPAN]);
    const call = ours[0] as ExportedSpan;
    expect(attribute(call, 'http.response.status_code')).toBe(status);
    expect(attribute(call, 'error.type')).toBe('Overloaded');
    expect(attribute(call, 'breakwater.outcome')).toBe('OverloadedError');
    expect(attribute(call, 'gen_ai.usage.input_tokens')).toBeUndefined();
    expect(call.status?.code).toBe(2); // error
    expect(attemptEvents(call).map((e) => [e['breakwater.attempt'], e['error.type']])).toEqual([
      [1, 'Overloaded'],
      [2, 'Overloaded'],
    ]);
  });

  it('traces an agent invocation and its model calls the same way', async () => {
    running = await standaloneRuntime(policyDocument(providerUrl), {
      ...OTEL_ENV,
      OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    });
    const response = await fetch(`${running.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: CALLER_TRACEPARENT },
      body: JSON.stringify({ input: 'hello', sessionId: 'traced-session' }),
    });
    expect(response.status).toBe(200);
    const all = await waitForSpans(
      (s) => s.filter((x) => x.traceId === CALLER_TRACE_ID).length >= 3,
    );
    const ours = all.filter((s) => s.traceId === CALLER_TRACE_ID);
    const request = ours.find((s) => s.name === 'POST /v1/agent/invoke');
    expect(request?.parentSpanId).toBe(CALLER_SPAN_ID);
    expect(attribute(request as ExportedSpan, 'breakwater.session')).toBe('traced-session');
    // The run is the GenAI conventions' invoke_agent span; its model calls go under it.
    const agent = ours.find((s) => s.name.startsWith('invoke_agent '));
    expect(agent?.parentSpanId).toBe(request?.spanId);
    expect(attribute(agent as ExportedSpan, 'gen_ai.conversation.id')).toBe('traced-session');
    const attempt = ours.find(isAttempt);
    expect(attempt?.parentSpanId).toBe(agent?.spanId);
    expect(attribute(attempt as ExportedSpan, 'gen_ai.request.model')).toBe(PRIMARY_MODEL);
  });

  it('traces each execution of a run the runtime owns, its replayed steps marked', async () => {
    const redis = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'bw-telemetry-'));
    writeFileSync(join(dir, 'key'), Buffer.alloc(32, 7));
    const prefix = 'breakwater:run:tests/telemetry';
    try {
      running = await standaloneRuntime(
        policyDocument(providerUrl, (d) => {
          d.durability = {
            store: { redis: { address: redis.address } },
            retentionMs: 600_000,
            encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
            keyPrefix: prefix,
          };
        }),
        {
          ...OTEL_ENV,
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
          BREAKWATER_DURABILITY_KEY_FILE: join(dir, 'key'),
        },
      );
      const url = running.runtime.url;
      const invoke = async (traceparent: string) => {
        const response = await fetch(`${url}/v1/agent/invoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'traced', traceparent },
          body: JSON.stringify({ input: 'hello' }),
        });
        expect(response.status).toBe(200);
        return response.headers.get('breakwater-run-id') ?? '';
      };
      const inTrace = (id: string) => (all: ExportedSpan[]) => all.filter((s) => s.traceId === id);
      const named = (all: ExportedSpan[], name: string, step: (s: ExportedSpan) => boolean) =>
        all.some((s) => s.name === name) && all.some(step);

      const run = await invoke(CALLER_TRACEPARENT);
      const live = inTrace(CALLER_TRACE_ID)(
        await waitForSpans((all) => named(inTrace(CALLER_TRACE_ID)(all), 'agent.run', isAttempt)),
      );
      const liveRun = live.find((s) => s.name === 'agent.run');
      expect(liveRun?.parentSpanId).toBe(CALLER_SPAN_ID);
      expect(attribute(liveRun as ExportedSpan, 'breakwater.run')).toBe(run);
      // The execution's invoke_agent span, its conversation the run (no session was given).
      const liveAgent = live.find((s) => s.name.startsWith('invoke_agent '));
      expect(liveAgent?.parentSpanId).toBe(liveRun?.spanId);
      expect(attribute(liveAgent as ExportedSpan, 'gen_ai.conversation.id')).toBe(run);
      const attempt = live.find(isAttempt);
      expect(attempt?.parentSpanId).toBe(liveAgent?.spanId);
      expect(live.some(isReplayed)).toBe(false);

      // Its record gone, the run executes again, as on the replica that takes it over: the
      // model turn comes from the journal, in the trace of the request that started it again.
      const client = createClient({ url: `redis://${redis.address}` });
      await client.connect();
      await client.del(`${prefix}:{${run}}:agent`);
      client.destroy();
      const called = providerCalls.length;
      const again = `00-${SECOND_TRACE_ID}-b7ad6b7169203331-01`;
      expect(await invoke(again)).toBe(run);
      const second = inTrace(SECOND_TRACE_ID)(
        await waitForSpans((all) => named(inTrace(SECOND_TRACE_ID)(all), 'agent.run', isReplayed)),
      );
      const replayedRun = second.find((s) => s.name === 'agent.run');
      const replayedAgent = second.find((s) => s.name.startsWith('invoke_agent '));
      expect(replayedAgent?.parentSpanId).toBe(replayedRun?.spanId);
      const replayed = second.find(isReplayed);
      expect(replayed?.parentSpanId).toBe(replayedAgent?.spanId);
      expect(attribute(replayed as ExportedSpan, 'breakwater.replayed')).toBe('true');
      expect(attribute(replayed as ExportedSpan, 'gen_ai.operation.name')).toBe('chat');
      expect(second.some(isAttempt)).toBe(false);
      expect(providerCalls.length).toBe(called);
    } finally {
      await running?.stop();
      running = undefined;
      await redis.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a new trace for a caller that sends none', async () => {
    running = await standaloneRuntime(policyDocument(providerUrl), {
      ...OTEL_ENV,
      OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    });
    expect(await ask(running)).toBe(200);
    const all = await waitForSpans((s) => s.some((x) => x.name === CHAT_SPAN));
    const request = all.find((s) => s.name === CHAT_SPAN);
    expect(request?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(request?.traceId).not.toBe(CALLER_TRACE_ID);
    expect(request?.parentSpanId ?? '').toBe('');
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports nothing and passes the caller’s traceparent to the provider unchanged', async () => {
    running = await standaloneRuntime(policyDocument(providerUrl), {
      ...OTEL_ENV,
      // Where an SDK that started anyway would send its spans.
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collectorUrl}/v1/traces`,
    });
    expect(await ask(running, { traceparent: CALLER_TRACEPARENT })).toBe(200);
    expect(providerCalls.map((h) => h.traceparent)).toEqual([CALLER_TRACEPARENT]);
    await running.stop(); // an SDK flushes what it holds on shutdown
    running = undefined;
    expect(exported).toEqual([]);
  });
});
