/**
 * What one call's telemetry looks like in a Collector, the same in every way the runtime runs
 * (test/telemetry/telemetryModes.test.ts for a policy file and the manifests, the in-cluster
 * suites for the bundled agent and the sidecar): one CLIENT `chat {model}` span a relayed call
 * (the request's span is the conventions' model call span; no `POST /v1/messages` span), with
 * these attribute names.
 */
import { attr, type OtelCollector, type Span } from './otelCollector.ts';
import { waitFor } from './waitFor.ts';

export const CHAT_SPAN_ATTRIBUTES = [
  'breakwater.attempt',
  'breakwater.backend',
  'breakwater.breaker.state',
  'breakwater.outcome',
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.max_tokens',
  'gen_ai.request.model',
  'gen_ai.response.finish_reasons',
  'gen_ai.response.id',
  'gen_ai.response.model',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens',
  'http.response.status_code',
  'server.address',
  'server.port',
];

/** The attributes of each `gen_ai.client.token.usage` point. */
export const TOKEN_USAGE_ATTRIBUTES = [
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.token.type',
  'server.address',
  'server.port',
];

/** A span's name, kind, attribute names, and GenAI values but the response's id. */
export function spanShape(span: Span | undefined) {
  const names = (span?.attributes ?? []).map((a) => a.key).sort();
  const genAi = Object.fromEntries(
    names
      .filter((k) => k.startsWith('gen_ai.') && k !== 'gen_ai.response.id')
      .map((k) => [k, attr(span?.attributes, k)]),
  );
  return { name: span?.name, kind: span?.kind, names, genAi };
}

/** The shapes of `service`'s spans by name, once its call's `chat {model}` span is written. */
export async function spanShapesOf(
  collector: OtelCollector,
  service: string,
  timeoutMs = 20_000,
): Promise<Record<string, ReturnType<typeof spanShape>>> {
  const spans = await waitFor(
    () => {
      const written = collector.spans(service);
      return written.some((s) => s.name.startsWith('chat ')) ? written : undefined;
    },
    { timeoutMs, description: `the chat span of ${service}` },
  );
  return Object.fromEntries(spans.map((s) => [s.name, spanShape(s)] as const));
}

/** `service`'s `gen_ai.client.token.usage` points: token type, count and attribute names. */
export async function tokenUsageOf(collector: OtelCollector, service: string, timeoutMs = 20_000) {
  const usage = await waitFor(() => collector.latestMetric('gen_ai.client.token.usage', service), {
    timeoutMs,
    description: `gen_ai.client.token.usage of ${service}`,
  });
  return (usage.histogram?.dataPoints ?? [])
    .map((p) => ({
      type: attr(p.attributes, 'gen_ai.token.type'),
      count: Number(p.count),
      names: (p.attributes ?? []).map((a) => a.key).sort(),
    }))
    .sort((a, b) => String(a.type).localeCompare(String(b.type)));
}

/** The runtime container's environment for exporting to `collector` as `service`. */
export function otelEnv(
  collector: OtelCollector,
  service: string,
): { name: string; value: string }[] {
  return Object.entries({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_SERVICE_NAME: service,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
  }).map(([name, value]) => ({ name, value }));
}
