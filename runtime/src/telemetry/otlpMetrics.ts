/**
 * The GenAI metrics over OTLP, read from the tallies /metrics already keeps (genAiMetrics.ts)
 * instead of recorded a second time on the SDK's meter. A MetricProducer hands the SDK's
 * periodic reader each instrument's cumulative histogram at export time, so a call pays
 * nothing for OTLP metrics; the SDK's own instruments would hash every call's attributes to
 * find its series (about a fifth of what telemetry cost a call: bench/results/HISTORY.md).
 *
 * The readers follow the standard variables as the SDK's own would: OTEL_METRICS_EXPORTER
 * (`otlp` by default, `console`, `none`), OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or
 * OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf` by default, `http/json`, `grpc`; both http
 * encodings the SDK's serializers, sent over undici), and OTEL_METRIC_EXPORT_INTERVAL and
 * OTEL_METRIC_EXPORT_TIMEOUT. Loaded only with an OTLP endpoint.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  ConsoleMetricExporter,
  DataPointType,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type HistogramMetricData,
  type IMetricReader,
  type MetricProducer,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { OtlpHistogram } from './genAiMetrics.ts';
import { listOf, positiveOf, protocolOf, type OtelEnv as Env } from './otelEnv.ts';

/** What the producer reads at each export: the runtime's GenAiMetrics, once it exists. */
export interface OtlpHistogramSource {
  otlpHistograms(): readonly OtlpHistogram[];
}

const SCOPE = { name: 'breakwater-runtime' };
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** Reads the tallies of a source attached after the SDK started (the runtime comes later). */
export class TallyProducer implements MetricProducer {
  #source: OtlpHistogramSource | undefined;
  /** The tallies count from the process's start; cumulative points say so. */
  readonly #start: HrTime;

  constructor(startMs: number) {
    this.#start = hrTime(startMs);
  }

  attach(source: OtlpHistogramSource): void {
    this.#source = source;
  }

  collect(): Promise<CollectionResult> {
    const now = hrTime(Date.now());
    const metrics: HistogramMetricData[] = [];
    for (const histogram of this.#source?.otlpHistograms() ?? []) {
      if (histogram.points.length === 0) continue;
      metrics.push({
        descriptor: {
          name: histogram.name,
          description: histogram.description,
          unit: histogram.unit,
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: histogram.points.map(({ attributes, counts }) => ({
          startTime: this.#start,
          endTime: now,
          attributes,
          value: {
            buckets: { boundaries: [...counts.bounds], counts: Array.from(counts.counts) },
            sum: counts.sum,
            count: counts.count,
          },
        })),
      });
    }
    return Promise.resolve({
      resourceMetrics: {
        // The reader puts the SDK's resource on what it exports; this one is not read.
        resource: emptyResource(),
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: SCOPE, metrics }],
      },
      errors: [],
    });
  }
}

/** The metric readers the environment asks for, each reading `producer`; none for `none`. */
export async function metricReadersFromEnv(
  env: Env,
  producer: MetricProducer,
  warn: (message: string) => void,
): Promise<IMetricReader[]> {
  const names = listOf(env, 'OTEL_METRICS_EXPORTER');
  if (names.includes('none')) return [];
  const readers: IMetricReader[] = [];
  const interval = positiveOf(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? DEFAULT_INTERVAL_MS;
  const timeout = Math.min(
    positiveOf(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? DEFAULT_TIMEOUT_MS,
    interval,
  );
  for (const name of names.length === 0 ? ['otlp'] : names) {
    let exporter: PushMetricExporter;
    if (name === 'otlp') exporter = await otlpExporter(env, warn);
    else if (name === 'console') exporter = new ConsoleMetricExporter();
    else {
      warn(
        `OTEL_METRICS_EXPORTER ${name} is not supported (otlp, console or none); the GenAI metrics are on /metrics`,
      );
      continue;
    }
    readers.push(
      new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: interval,
        exportTimeoutMillis: timeout,
        metricProducers: [producer],
      }),
    );
  }
  return readers;
}

async function otlpExporter(
  env: Env,
  warn: (message: string) => void,
): Promise<PushMetricExporter> {
  // http/protobuf by default, as the spec and the traces (traceExport.ts).
  const protocol = protocolOf(env, 'METRICS') ?? 'http/protobuf';
  if (protocol === 'grpc') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
    return new OTLPMetricExporter();
  }
  const json = protocol === 'http/json';
  if (!json && protocol !== 'http/protobuf')
    warn(`OTLP metrics protocol ${protocol} is not supported; using http/protobuf`);
  // The SDK's exporter and serializers, sent over undici (undiciExportTransport.ts says why).
  const [
    { OTLPMetricExporterBase },
    { JsonMetricsSerializer, ProtobufMetricsSerializer, MetricsExporterMetricsHelper },
    { undiciExportDelegate },
  ] = await Promise.all([
    import('@opentelemetry/exporter-metrics-otlp-http'),
    import('@opentelemetry/otlp-transformer'),
    import('./undiciExportTransport.ts'),
  ]);
  return new OTLPMetricExporterBase(
    undiciExportDelegate(
      'METRICS',
      json ? JsonMetricsSerializer : ProtobufMetricsSerializer,
      { componentType: 'otlp_http_metric_exporter', helper: MetricsExporterMetricsHelper },
      json ? 'application/json' : 'application/x-protobuf',
    ),
  );
}
