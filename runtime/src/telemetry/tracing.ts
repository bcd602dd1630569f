/**
 * OpenTelemetry spans for each request and each provider attempt. The SDK (with OTLP export)
 * starts only when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the API's no-op tracer costs
 * nothing, and the caller's W3C `traceparent`/`tracestate` are still passed on to the
 * provider unchanged so the trace is not cut at this hop.
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
} from '@opentelemetry/api';

const TRACER = 'breakwater-runtime';

export interface Telemetry {
  shutdown(): Promise<void>;
}

export async function startTelemetry(
  env: Readonly<Record<string, string | undefined>>,
): Promise<Telemetry> {
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (endpoint === undefined || endpoint === '') {
    sdkActive = false;
    return { shutdown: () => Promise.resolve() };
  }
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const sdk = new NodeSDK({
    serviceName: env['OTEL_SERVICE_NAME'] ?? 'breakwater-runtime',
    traceExporter: new OTLPTraceExporter(),
  });
  sdk.start();
  sdkActive = true;
  return { shutdown: () => sdk.shutdown() };
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

export function startRequestSpan(
  name: string,
  headers: Headers,
  attributes: Record<string, string>,
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
  const span = trace
    .getTracer(TRACER)
    .startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
  const outgoing: Record<string, string> = {};
  propagation.inject(ctx, outgoing);
  return { span, ctx, outgoing };
}

export function endSpan(span: Span, status: number, error?: unknown): void {
  span.setAttribute('http.response.status_code', status);
  if (error !== undefined || status >= 500) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.name : `HTTP ${status}`,
    });
  }
  span.end();
}

/**
 * A step of a durable run answered from its journal (durable/agentJournal.ts): a child span
 * of the run's, marked replayed, where a live step has its provider attempts.
 */
export function recordReplayedStep(request: RequestSpan, kind: 'model' | 'tool'): void {
  if (!sdkActive) return;
  trace
    .getTracer(TRACER)
    .startSpan(
      kind === 'model' ? 'llm.replayed' : 'tool.replayed',
      { kind: SpanKind.INTERNAL, attributes: { 'breakwater.replayed': 'true' } },
      request.ctx,
    )
    .end();
}

/**
 * A child span around one provider attempt. With the SDK on, the request's outgoing trace
 * headers are pointed at this span while it runs, so the provider's side of the call sits
 * under the attempt that made it (a request's attempts run one after another).
 */
export async function withAttemptSpan<T>(
  request: RequestSpan,
  attributes: { model: string; backend: string; attempt: number; breakerState: string },
  run: () => Promise<T>,
): Promise<T> {
  if (!sdkActive) return run();
  const parent = request.ctx;
  const span = trace.getTracer(TRACER).startSpan(
    'llm.attempt',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.request.model': attributes.model,
        'breakwater.backend': attributes.backend,
        'breakwater.attempt': attributes.attempt,
        'breakwater.breaker.state': attributes.breakerState,
      },
    },
    parent,
  );
  propagation.inject(trace.setSpan(parent, span), request.outgoing);
  try {
    const result = await run();
    span.setAttribute('breakwater.outcome', 'Success');
    return result;
  } catch (err) {
    span.setAttribute('breakwater.outcome', err instanceof Error ? err.name : 'Error');
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
