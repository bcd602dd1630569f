/**
 * The runtime's GenAI telemetry as a real OpenTelemetry Collector receives it: the Collector
 * built from its Go modules with the collector builder (tools/collector/build-collector.sh:
 * an OTLP receiver, a file exporter), the runtime pointed at it over OTLP, calls made to the
 * simulator, and what the Collector wrote read back: span and metric names, attributes and
 * values against the calls made (tokens against the simulator's usage).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

type AnyValue = { stringValue?: string; intValue?: string | number; arrayValue?: unknown };
type KeyValue = { key: string; value: AnyValue };
interface Span {
  name: string;
  kind: number;
  attributes?: KeyValue[];
}
interface HistogramPoint {
  attributes?: KeyValue[];
  count: string | number;
  sum?: number;
  explicitBounds?: number[];
}
interface Metric {
  name: string;
  unit?: string;
  histogram?: { dataPoints: HistogramPoint[] };
}
interface Line {
  resourceSpans?: { scopeSpans?: { spans?: Span[] }[] }[];
  resourceMetrics?: { scopeMetrics?: { metrics?: Metric[] }[] }[];
}

let dir: string;
let collector: ChildProcess | undefined;
let sim: SimulatorHandle;
let runtime: StandaloneRuntime | undefined;
let endpoint: string;
const output = () => join(dir, 'telemetry.jsonl');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });
}

function lines(): Line[] {
  if (!existsSync(output())) return [];
  return readFileSync(output(), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

const spansWritten = () =>
  lines().flatMap((l) =>
    (l.resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])),
  );

/** The latest export of metric `name` (metrics are cumulative: the last one holds all). */
function latestMetric(name: string): Metric | undefined {
  const all = lines().flatMap((l) =>
    (l.resourceMetrics ?? []).flatMap((r) =>
      (r.scopeMetrics ?? []).flatMap((s) => s.metrics ?? []),
    ),
  );
  return all.filter((m) => m.name === name).at(-1);
}

function attr(attributes: KeyValue[] | undefined, key: string): unknown {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.arrayValue;
}

beforeAll(async () => {
  const binary = execFileSync('tools/collector/build-collector.sh', { encoding: 'utf8' }).trim();
  dir = mkdtempSync(join(tmpdir(), 'bw-otelcol-'));
  const port = await freePort();
  endpoint = `http://127.0.0.1:${String(port)}`;
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${String(port)}`,
      'exporters:',
      '  file:',
      `    path: ${output()}`,
      '    flush_interval: 100ms',
      'service:',
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '  pipelines:',
      '    traces: { receivers: [otlp], exporters: [file] }',
      '    metrics: { receivers: [otlp], exporters: [file] }',
      '',
    ].join('\n'),
  );
  collector = spawn(binary, ['--config', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  collector.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  await waitFor(() => log.includes('Everything is ready'), {
    timeoutMs: 30_000,
    description: `the Collector to start (its log so far: ${log.slice(-500)})`,
  });
  sim = await startSimulator({ seed: 41 });
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await sim.stop();
  if (collector?.pid !== undefined) {
    const exited = new Promise((resolve) => collector?.once('exit', resolve));
    process.kill(collector.pid, 'SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the runtime’s GenAI telemetry in a real OpenTelemetry Collector', () => {
  it('arrives as chat spans and gen_ai metrics whose tokens are the simulator’s usage', async () => {
    runtime = await standaloneRuntime(policyDocument(sim.url), {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'breakwater-collector-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
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
      () => spansWritten().find((s) => s.name === `chat ${PRIMARY_MODEL}`),
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

    const usage = await waitFor(() => latestMetric('gen_ai.client.token.usage'), {
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

    const duration = latestMetric('gen_ai.client.operation.duration');
    expect(duration?.unit).toBe('s');
    expect(Number(duration?.histogram?.dataPoints[0]?.count)).toBe(1);
    expect(duration?.histogram?.dataPoints[0]?.explicitBounds?.[0]).toBe(0.01);
  });
});
