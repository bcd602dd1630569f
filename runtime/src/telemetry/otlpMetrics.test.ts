import { describe, expect, it } from '@jest/globals';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { genAiPeer } from './genAiConventions.ts';
import { GenAiMetrics } from './genAiMetrics.ts';
import { metricReadersFromEnv, TallyProducer } from './otlpMetrics.ts';

const peer = genAiPeer('Anthropic', 'http://127.0.0.1:8787');

function recordedMetrics(): GenAiMetrics {
  const metrics = new GenAiMetrics(new Registry());
  for (const output_tokens of [20, 40])
    metrics.record({
      requestModel: 'claude-a',
      peer,
      durationMs: 300,
      errorType: undefined,
      response: { model: 'claude-a-2025' },
      usage: { input_tokens: 10, output_tokens, cache_read_input_tokens: 5 },
    });
  metrics.record({ requestModel: 'claude-a', peer, durationMs: 50, errorType: 'RateLimited' });
  return metrics;
}

/** What an SDK reader with the producer exports, as the OTLP exporter would receive it. */
async function exported(producer: TallyProducer): Promise<HistogramMetricData[]> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
    metricProducers: [producer],
  });
  const provider = new MeterProvider({ readers: [reader] });
  await reader.forceFlush();
  await provider.shutdown();
  return exporter
    .getMetrics()
    .flatMap((r) => r.scopeMetrics)
    .flatMap((s) => s.metrics) as HistogramMetricData[];
}

describe('the GenAI metrics over OTLP', () => {
  it('are the tallies /metrics shows, under the conventions’ names and attributes', async () => {
    const producer = new TallyProducer(Date.now());
    producer.attach(recordedMetrics());
    const metrics = await exported(producer);
    const usage = metrics.find((m) => m.descriptor.name === 'gen_ai.client.token.usage');
    expect(usage?.descriptor.unit).toBe('{token}');
    expect(usage?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(usage?.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    const output = usage?.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output');
    expect(output?.value.count).toBe(2);
    expect(output?.value.sum).toBe(60);
    expect(output?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-a',
      'gen_ai.response.model': 'claude-a-2025',
      'gen_ai.token.type': 'output',
      'server.address': '127.0.0.1',
      'server.port': 8787,
    });
    // Bucket counts per bucket, one more than the boundaries (the last is +Inf).
    const counts = output?.value.buckets.counts ?? [];
    expect(counts.length).toBe((output?.value.buckets.boundaries.length ?? 0) + 1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
    const input = usage?.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'input');
    expect(input?.value.sum).toBe(30); // cache reads count as input

    const duration = metrics.find((m) => m.descriptor.name === 'gen_ai.client.operation.duration');
    const failed = duration?.dataPoints.find((p) => p.attributes['error.type'] === 'RateLimited');
    expect(failed?.value.count).toBe(1);
    expect(failed?.attributes['gen_ai.response.model']).toBeUndefined();
    const served = duration?.dataPoints.find((p) => p.attributes['error.type'] === undefined);
    expect(served?.value.sum).toBeCloseTo(0.6);
    // No stream was relayed: an instrument without a series is not exported.
    expect(metrics.map((m) => m.descriptor.name)).not.toContain(
      'gen_ai.server.time_to_first_token',
    );
  });

  it('export nothing before the runtime attaches its metrics', async () => {
    expect(await exported(new TallyProducer(Date.now()))).toEqual([]);
  });
});

describe('the metric readers from the environment', () => {
  const producer = new TallyProducer(Date.now());
  const readers = async (env: Record<string, string>) => {
    const warnings: string[] = [];
    const list = await metricReadersFromEnv(env, producer, (m) => warnings.push(m));
    await Promise.all(list.map((r) => r.shutdown()));
    return { count: list.length, warnings };
  };

  it('export over OTLP by default, in every protocol the SDK speaks', async () => {
    expect(await readers({})).toEqual({ count: 1, warnings: [] });
    for (const protocol of ['http/protobuf', 'http/json', 'grpc'])
      expect(await readers({ OTEL_EXPORTER_OTLP_PROTOCOL: protocol })).toEqual({
        count: 1,
        warnings: [],
      });
  });

  it('send none under OTEL_METRICS_EXPORTER=none, and name what they cannot do', async () => {
    expect(await readers({ OTEL_METRICS_EXPORTER: 'none' })).toEqual({ count: 0, warnings: [] });
    const prometheus = await readers({ OTEL_METRICS_EXPORTER: 'prometheus,otlp' });
    expect(prometheus.count).toBe(1);
    expect(prometheus.warnings).toEqual([expect.stringContaining('prometheus is not supported')]);
    const odd = await readers({ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'carrier-pigeon' });
    expect(odd).toEqual({ count: 1, warnings: [expect.stringContaining('carrier-pigeon')] });
  });
});
