/**
 * Where the runtime's spans (lightSpans.ts) go, set up from the standard OTEL_* variables as
 * the Node SDK sets up its own: the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the
 * host, the process and the OS), the sampler (OTEL_TRACES_SAMPLER and its argument; parent-based
 * always-on by default), the batch processor (OTEL_BSP_*), and the OTLP exporter by protocol
 * (http/protobuf, the spec's default, unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says
 * http/json or grpc). Both http encodings are the runtime's own writers (otlpProtoSpans.ts,
 * otlpJsonSpans.ts) sent over undici; protobuf is the default as it costs the runtime half the
 * CPU of its JSON a span and the Collector less to read (bench/results/HISTORY.md, telemetry).
 * OTEL_TRACES_EXPORTER=none exports no span. Loaded only with an OTLP endpoint.
 */
import {
  detectResources,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  defaultResource,
  resourceAttributesEnvDetector,
  serviceInstanceIdDetector,
  serviceNameEnvDetector,
  type Resource,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { SpanSink } from './lightSpans.ts';
import { listOf, positiveOf, protocolOf, type OtelEnv as Env } from './otelEnv.ts';

/** The resource every span and metric of this process describes. */
export function runtimeResource(env: Env): Resource {
  const detected = detectResources({
    detectors: [
      serviceInstanceIdDetector,
      processDetector,
      hostDetector,
      osDetector,
      resourceAttributesEnvDetector,
      serviceNameEnvDetector,
    ],
  });
  return defaultResource()
    .merge(detected)
    .merge(
      resourceFromAttributes({ 'service.name': env['OTEL_SERVICE_NAME'] ?? 'breakwater-runtime' }),
    );
}

export async function spanSink(
  env: Env,
  resource: Resource,
  scope: string,
  warn: (message: string) => void,
): Promise<SpanSink> {
  const sampler = samplerFromEnv(env, warn);
  const exporters = listOf(env, 'OTEL_TRACES_EXPORTER').filter((n) => n !== 'otlp');
  if (exporters.includes('none'))
    return { resource, scope: { name: scope }, sampler, processor: new NoopSpanProcessor() };
  for (const other of exporters)
    warn(`OTEL_TRACES_EXPORTER ${other} is not supported (otlp or none); spans go over OTLP`);
  const processor = new BatchSpanProcessor({
    exporter: await otlpTraceExporter(env, warn),
    ...bufferFromEnv(env),
  });
  return { resource, scope: { name: scope }, sampler, processor };
}

async function otlpTraceExporter(env: Env, warn: (message: string) => void): Promise<SpanExporter> {
  const protocol = protocolOf(env, 'TRACES') ?? 'http/protobuf';
  if (protocol === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter();
  }
  if (protocol === 'http/json') {
    // The SDK's http exporter, with the runtime's JSON writer (otlpJsonSpans.ts says why).
    const { leanJsonSpanExporter } = await import('./otlpJsonSpans.ts');
    return leanJsonSpanExporter();
  }
  if (protocol !== 'http/protobuf')
    warn(`OTLP traces protocol ${protocol} is not supported; using http/protobuf`);
  // The SDK's http exporter, with the runtime's protobuf writer (otlpProtoSpans.ts).
  const { leanProtoSpanExporter } = await import('./otlpProtoSpans.ts');
  return leanProtoSpanExporter();
}

/** OTEL_TRACES_SAMPLER's standard values; parentbased_always_on unless it says another. */
export function samplerFromEnv(env: Env, warn: (message: string) => void): Sampler {
  const name = (env['OTEL_TRACES_SAMPLER'] ?? '').trim() || 'parentbased_always_on';
  const arg = env['OTEL_TRACES_SAMPLER_ARG'];
  const ratio = (): number => {
    const n = Number(arg);
    if (arg === undefined || arg.trim() === '' || !(n >= 0 && n <= 1)) {
      if (arg !== undefined)
        warn(`OTEL_TRACES_SAMPLER_ARG ${arg} is not a ratio from 0 to 1; using 1`);
      return 1;
    }
    return n;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      warn(`OTEL_TRACES_SAMPLER ${name} is not supported; using parentbased_always_on`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function bufferFromEnv(env: Env) {
  const options: {
    scheduledDelayMillis?: number;
    exportTimeoutMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
  } = {};
  const delay = positiveOf(env, 'OTEL_BSP_SCHEDULE_DELAY');
  const timeout = positiveOf(env, 'OTEL_BSP_EXPORT_TIMEOUT');
  const queue = positiveOf(env, 'OTEL_BSP_MAX_QUEUE_SIZE');
  const batch = positiveOf(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  if (delay !== undefined) options.scheduledDelayMillis = delay;
  if (timeout !== undefined) options.exportTimeoutMillis = timeout;
  if (queue !== undefined) options.maxQueueSize = queue;
  if (batch !== undefined) options.maxExportBatchSize = batch;
  return options;
}
