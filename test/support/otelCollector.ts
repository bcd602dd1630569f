/**
 * A real OpenTelemetry Collector for the tests and the bench: built from its Go modules with
 * the collector builder (tools/collector/build-collector.sh: an OTLP/HTTP receiver, a file
 * exporter), started on a free loopback port, and what it wrote (OTLP JSON, one export a
 * line) read back as spans and metrics.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './podReach.ts';
import { waitFor } from './waitFor.ts';

type AnyValue = { stringValue?: string; intValue?: string | number; arrayValue?: unknown };
export type KeyValue = { key: string; value: AnyValue };
export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  status?: { code?: number };
}
interface HistogramPoint {
  attributes?: KeyValue[];
  count: string | number;
  sum?: number;
  explicitBounds?: number[];
}
export interface Metric {
  name: string;
  unit?: string;
  histogram?: { dataPoints: HistogramPoint[] };
}
interface Resource {
  attributes?: KeyValue[];
}
interface Line {
  resourceSpans?: { resource?: Resource; scopeSpans?: { spans?: Span[] }[] }[];
  resourceMetrics?: { resource?: Resource; scopeMetrics?: { metrics?: Metric[] }[] }[];
}

/** OTLP's span kinds, as the file exporter writes them. */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

export interface OtelCollector {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT` for a process that should export here. */
  readonly endpoint: string;
  /** Its process id (a bench reads its CPU time). */
  readonly pid: number;
  /** Every span written so far; with `service`, those of that `service.name` only. */
  spans(service?: string): Span[];
  /** Every export written so far as the Collector wrote it (OTLP JSON), one a request. */
  exports(): unknown[];
  /**
   * The latest export of metric `name` (metrics are cumulative: the last one holds all); with
   * `service`, that `service.name`'s.
   */
  latestMetric(name: string, service?: string): Metric | undefined;
  /** Stops the process (SIGTERM, waited for) and removes its folder. */
  stop(): Promise<void>;
}

/** `host`: the address it listens on (default loopback; a pod reaches serverHost()). */
export async function startCollector(host = '127.0.0.1'): Promise<OtelCollector> {
  const binary = execFileSync('tools/collector/build-collector.sh', { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'bw-otelcol-'));
  const output = join(dir, 'telemetry.jsonl');
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: ${host}:${String(port)}`,
      'exporters:',
      '  file:',
      `    path: ${output}`,
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
  const collector = spawn(binary, ['--config', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => collector.once('exit', resolve));
  const stop = async () => {
    if (collector.exitCode === null && collector.pid !== undefined) {
      process.kill(collector.pid, 'SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let log = '';
  collector.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  try {
    await waitFor(() => log.includes('Everything is ready'), {
      timeoutMs: 30_000,
      description: `the Collector to start (its log so far: ${log.slice(-500)})`,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // Whole lines only: a long export may be read while the Collector is still writing it.
  const lines = (): Line[] =>
    existsSync(output)
      ? readFileSync(output, 'utf8')
          .split('\n')
          .slice(0, -1)
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Line)
      : [];
  const of = (resource: Resource | undefined, service: string | undefined): boolean =>
    service === undefined || attr(resource?.attributes, 'service.name') === service;
  return {
    endpoint: `http://${host}:${String(port)}`,
    pid: collector.pid ?? 0,
    exports: lines,
    spans: (service) =>
      lines().flatMap((l) =>
        (l.resourceSpans ?? [])
          .filter((r) => of(r.resource, service))
          .flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])),
      ),
    latestMetric: (name, service) =>
      lines()
        .flatMap((l) =>
          (l.resourceMetrics ?? [])
            .filter((r) => of(r.resource, service))
            .flatMap((r) => (r.scopeMetrics ?? []).flatMap((s) => s.metrics ?? [])),
        )
        .filter((m) => m.name === name)
        .at(-1),
    stop,
  };
}

/** An attribute's value: ints as numbers, strings as strings, arrays as OTLP wrote them. */
export function attr(attributes: KeyValue[] | undefined, key: string): unknown {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.arrayValue;
}
