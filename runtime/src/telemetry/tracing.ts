/**
 * OpenTelemetry spans for each request and each provider attempt. The SDK (with OTLP export
 * of traces, and of the GenAI metrics: otlpMetrics.ts) starts only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the API's no-op tracer costs nothing, and
 * the caller's W3C `traceparent`/`tracestate` are still passed on to the provider unchanged
 * so the trace is not cut at this hop. The standard OTEL_* variables set the rest
 * (traceExport.ts and otlpMetrics.ts list those read: OTEL_EXPORTER_OTLP_PROTOCOL, http/protobuf
 * by default; OTEL_TRACES_SAMPLER; OTEL_METRIC_EXPORT_INTERVAL; OTEL_METRICS_EXPORTER=none to
 * send no metrics, ...).
 */
import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  trace,
  SpanKind,
  SpanStatusCode,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

import type { BackendType } from '../../../contract/src/policy/policyDocument.ts';
import { failureOf } from '../provider/anthropic/errorClassification.ts';
import type { RoutedResponse } from '../provider/providerAttempt.ts';
import {
  CHAT,
  chatRequestAttributes,
  chatSpanName,
  peerOf,
  setChatResponseAttributes,
} from './genAiConventions.ts';
import type { OtelEnv } from './otelEnv.ts';
import type { OtlpHistogramSource } from './otlpMetrics.ts';

export const TRACER = 'breakwater-runtime';

/** The runtime's tracer (lightSpans.ts) once telemetry started; the API's no-op one before. */
let tracer: Tracer = trace.getTracer(TRACER);

export function runtimeTracer(): Tracer {
  return tracer;
}

export interface Telemetry {
  /** Exports `source`'s GenAI histograms over OTLP from now on, when metrics are exported. */
  exportMetrics(source: OtlpHistogramSource): void;
  shutdown(): Promise<void>;
}

export async function startTelemetry(
  env: OtelEnv,
  warn: (message: string) => void = (message) => process.stderr.write(`${message}\n`),
): Promise<Telemetry> {
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (endpoint === undefined || endpoint === '') {
    sdkActive = false;
    return { exportMetrics: () => undefined, shutdown: () => Promise.resolve() };
  }
  const [{ NodeSDK }, { LightTracer }, { runtimeResource, spanSink }, metricsModule] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('./lightSpans.ts'),
      import('./traceExport.ts'),
      import('./otlpMetrics.ts'),
    ]);
  const resource = runtimeResource(env);
  const sink = await spanSink(env, resource, TRACER, warn);
  const producer = new metricsModule.TallyProducer(Date.now());
  // The SDK sets up the propagators (OTEL_PROPAGATORS), the context manager and the metric
  // readers; the spans are the runtime's own tracer's (lightSpans.ts says why), so it makes
  // no tracer provider of its own. The runtime writes no OpenTelemetry log records, so no log
  // processor either: without `logRecordProcessors` the SDK would make an OTLP log exporter
  // and its batch processor from OTEL_LOGS_EXPORTER's default, for nothing.
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [],
    logRecordProcessors: [],
    metricReaders: await metricsModule.metricReadersFromEnv(env, producer, warn),
  });
  sdk.start();
  sdkActive = true;
  tracer = new LightTracer(sink);
  return {
    exportMetrics: (source) => {
      producer.attach(source);
    },
    shutdown: async () => {
      await Promise.all([sink.processor.shutdown(), sdk.shutdown()]);
    },
  };
}

let sdkActive = false;

/** Whether spans are recorded: without an exporter, handlers can skip span bookkeeping. */
export function tracingActive(): boolean {
  return sdkActive;
}

/** What every request gets when nothing is recorded: ends, attributes and status do nothing. */
const NOT_RECORDED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const headerGetter = {
  keys: (carrier: Headers) => Object.keys(carrier),
  get: (carrier: Headers, key: string) => carrier[key],
};

export interface RequestSpan {
  readonly span: Span;
  readonly ctx: Context;
  /** Headers that carry this trace to the provider. */
  readonly outgoing: Record<string, string>;
}

/**
 * The span of a request: SERVER for the routes that answer it themselves; for `/v1/messages`
 * the GenAI conventions' CLIENT `chat {model}` span itself (`kind` CLIENT), on which each
 * provider attempt is recorded (withAttemptOnRequestSpan): one span a relayed call.
 */
export function startRequestSpan(
  name: string,
  headers: Headers,
  attributes: Record<string, string | number>,
  kind: SpanKind = SpanKind.SERVER,
): RequestSpan {
  if (!sdkActive) {
    // Nothing recorded here, but the caller's trace goes on to the provider unchanged.
    const outgoing: Record<string, string> = {};
    const parentHeader = headers.traceparent;
    const state = headers.tracestate;
    if (typeof parentHeader === 'string') outgoing.traceparent = parentHeader;
    if (typeof state === 'string') outgoing.tracestate = state;
    return { span: NOT_RECORDED, ctx: ROOT_CONTEXT, outgoing };
  }
  const parent = propagation.extract(context.active(), headers, headerGetter);
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
  const outgoing: Record<string, string> = {};
  propagation.inject(ctx, outgoing);
  return { span, ctx, outgoing };
}

export function endSpan(span: Span, status: number, error?: unknown): void {
  span.setAttribute('http.response.status_code', status);
  // The class the guard gave the failure (the metrics' `error.type`); a relayed call's span
  // gets it here, once no attempt answered, not from an attempt a later one made good.
  if (error !== undefined) span.setAttribute('error.type', failureOf(error, Date.now()).outcome);
  if (error !== undefined || status >= 500) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.name : `HTTP ${status}`,
    });
  }
  span.end();
}

/**
 * A model turn of a durable run answered from its journal (durable/agentJournal.ts): a child
 * span of the run's agent span, named and attributed as the model call it stands for and
 * marked replayed, where a live turn has its provider attempts. (A replayed tool call's own
 * `execute_tool` span is marked the same way: agentSpans.ts.)
 */
export function recordReplayedTurn(request: RequestSpan, model: string): void {
  if (!sdkActive) return;
  tracer
    .startSpan(
      chatSpanName(model),
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': CHAT,
          'gen_ai.request.model': model,
          'breakwater.replayed': 'true',
        },
      },
      request.ctx,
    )
    .end();
}

/**
 * A call answered from the response cache: a span under the caller's trace, named as the
 * model call it stands for and marked cached, though no provider was asked.
 */
export function recordCachedCall(headers: Headers, model: string, servedBy: string): void {
  if (!sdkActive) return;
  const parent = propagation.extract(context.active(), headers, headerGetter);
  tracer
    .startSpan(
      chatSpanName(model),
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': CHAT,
          'gen_ai.request.model': model,
          'gen_ai.response.model': servedBy,
          'breakwater.cache.hit': 'true',
        },
      },
      parent,
    )
    .end();
}

/** Who an attempt goes to, for its span. */
export interface AttemptSpanInfo {
  readonly model: string;
  readonly backend: { readonly name: string; readonly type: BackendType; readonly baseURL: string };
  readonly maxTokens: number | undefined;
  readonly attempt: number;
  readonly breakerState: string;
}

/**
 * A child span around one provider attempt: the GenAI conventions' client span of a model
 * call (`chat {model}`, genAiConventions.ts), with the answer's model, id, stop reason and
 * usage once it ends, or its `error.type`. With the SDK on, the request's outgoing trace
 * headers are pointed at this span while it runs, so the provider's side of the call sits
 * under the attempt that made it (a request's attempts run one after another).
 */
export async function withAttemptSpan<T>(
  request: RequestSpan,
  info: AttemptSpanInfo,
  run: () => Promise<T>,
): Promise<T> {
  if (!sdkActive) return run();
  const parent = request.ctx;
  const attributes: Record<string, string | number> = chatRequestAttributes({
    model: info.model,
    maxTokens: info.maxTokens,
    peer: peerOf(info.backend),
  });
  attributes['breakwater.backend'] = info.backend.name;
  attributes['breakwater.attempt'] = info.attempt;
  attributes['breakwater.breaker.state'] = info.breakerState;
  const span = tracer.startSpan(
    chatSpanName(info.model),
    { kind: SpanKind.CLIENT, attributes },
    parent,
  );
  propagation.inject(trace.setSpan(parent, span), request.outgoing);
  try {
    const result = await run();
    recordAnswer(span, result);
    return result;
  } catch (err) {
    // The class the guard gave the failure: the same `error.type` as the metrics'.
    const outcome = failureOf(err, Date.now()).outcome;
    span.setAttribute('error.type', outcome);
    span.setAttribute('breakwater.outcome', err instanceof Error ? err.name : 'Error');
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

/** What a relayed call's `chat {model}` span starts with; the attempts add who was asked. */
export function relayChatAttributes(
  model: string,
  maxTokens: number | undefined,
): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'gen_ai.operation.name': CHAT,
    'gen_ai.request.model': model,
  };
  if (maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = maxTokens;
  return attributes;
}

/**
 * One provider attempt of a relayed `/v1/messages` call, recorded on the request's own
 * `chat {model}` span rather than a span of its own (one span a call: what telemetry costs a
 * call, issue 52, bench/results/HISTORY.md). The span holds the attempt that answered, or the
 * last one: its backend, peer, number and breaker state, and the answer's model, id, stop
 * reason and usage. An attempt that failed is a `breakwater.attempt` event on the span with
 * its model, backend, number, breaker state, `error.type` and outcome. The provider's side of
 * every attempt is under this span (the request's outgoing `traceparent` names it).
 */
export async function withAttemptOnRequestSpan<T>(
  request: RequestSpan,
  info: AttemptSpanInfo,
  run: () => Promise<T>,
): Promise<T> {
  const span = request.span;
  const peer = peerOf(info.backend);
  span.setAttribute('gen_ai.provider.name', peer.provider);
  if (peer.address !== '') {
    span.setAttribute('server.address', peer.address);
    span.setAttribute('server.port', Number(peer.port));
  }
  span.setAttribute('breakwater.backend', info.backend.name);
  span.setAttribute('breakwater.attempt', info.attempt);
  span.setAttribute('breakwater.breaker.state', info.breakerState);
  try {
    const result = await run();
    recordAnswer(span, result);
    return result;
  } catch (err) {
    const outcome = err instanceof Error ? err.name : 'Error';
    span.addEvent('breakwater.attempt', {
      'gen_ai.request.model': info.model,
      'breakwater.backend': info.backend.name,
      'breakwater.attempt': info.attempt,
      'breakwater.breaker.state': info.breakerState,
      'error.type': failureOf(err, Date.now()).outcome,
      'breakwater.outcome': outcome,
    });
    span.setAttribute('breakwater.outcome', outcome);
    throw err;
  }
}

/** An attempt that answered, on its span: the answer's model, id, stop reason and usage. */
function recordAnswer(span: Span, result: unknown): void {
  const answer = result as Partial<RoutedResponse> | undefined;
  if (answer?.usage !== undefined) setChatResponseAttributes(span, answer.response, answer.usage);
  span.setAttribute('breakwater.outcome', 'Success');
}
