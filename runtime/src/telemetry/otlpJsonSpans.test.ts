import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { LightTracer } from './lightSpans.ts';
import { exportRequestJson, leanJsonSpanSerializer, unixNanos } from './otlpJsonSpans.ts';

const CALLER = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=a"b,other=1'),
};

function tracerInto(ended: ReadableSpan[], service: string, scope = 'breakwater-runtime') {
  return new LightTracer({
    resource: resourceFromAttributes({ 'service.name': service, 'process.pid': 42 }),
    scope: { name: scope },
    sampler: new AlwaysOnSampler(),
    processor: {
      onStart: () => undefined,
      onEnd: (span) => ended.push(span),
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  });
}

/** What the SDK writes, less the fields at their default that OTLP JSON may leave out. */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (/^dropped\w+Count$/.test(key) && field === 0) continue;
    if (
      ['attributes', 'events', 'links'].includes(key) &&
      Array.isArray(field) &&
      field.length === 0
    )
      continue;
    if (key === 'status' && JSON.stringify(field) === '{"code":0}') continue;
    out[key] = withoutDefaults(field);
  }
  return out;
}

function spans(): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const tracer = tracerInto(ended, 'svc-"quoted"');
  const caller = trace.setSpanContext(ROOT_CONTEXT, CALLER);
  const request = tracer.startSpan(
    'POST /v1/messages',
    { kind: SpanKind.SERVER, attributes: { 'gen_ai.request.model': 'claude-é' } },
    caller,
  );
  const chat = tracer.startSpan(
    'chat claude-é',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.request.max_tokens': 1024,
        'gen_ai.response.finish_reasons': ['end_turn', 'tool_use'],
        'a.double': 0.25,
        'a.bool': false,
        'a.line': 'two\nlines \u2028 and \\ "quotes"',
        'a.unset': undefined,
        'a.bytes': new Uint8Array([0, 1, 254]),
        'a.map': { nested: [1, 'two'], deeper: { flag: true } },
      },
      links: [{ context: { ...CALLER, isRemote: false }, attributes: { why: 'retry' } }],
    },
    trace.setSpan(caller, request),
  );
  chat.recordException(new TypeError('socket hang up'));
  chat.addEvent('plain');
  chat.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 529' });
  chat.end();
  request.setAttribute('http.response.status_code', 200);
  request.end();
  // A span of another resource and scope in the same batch.
  tracerInto(ended, 'other', 'other-scope').startSpan('root', {}, ROOT_CONTEXT).end();
  return ended;
}

describe('the runtime’s OTLP JSON for spans', () => {
  it('says what the SDK’s JSON serializer says, less the fields at their default', () => {
    const batch = spans();
    const sdk = JsonTraceSerializer.serializeRequest(batch);
    const expected = withoutDefaults(JSON.parse(new TextDecoder().decode(sdk)));
    expect(JSON.parse(exportRequestJson(batch))).toEqual(expected);
    const sent = leanJsonSpanSerializer.serializeRequest(batch);
    expect(JSON.parse(new TextDecoder().decode(sent))).toEqual(expected);
  });

  it('writes the same attribute again after its value changed, and back', () => {
    const ended: ReadableSpan[] = [];
    const tracer = tracerInto(ended, 'svc');
    for (const outcome of ['Success', 'Success', 'Timeout', 'Success', 7, 7, '7'])
      tracer.startSpan('chat m', { attributes: { 'breakwater.outcome': outcome } }).end();
    const written = JSON.parse(exportRequestJson(ended)) as {
      resourceSpans: { scopeSpans: { spans: { attributes: { value: unknown }[] }[] }[] }[];
    };
    const values = written.resourceSpans[0]?.scopeSpans[0]?.spans.map((s) => s.attributes[0]);
    expect(values?.map((a) => a?.value)).toEqual([
      { stringValue: 'Success' },
      { stringValue: 'Success' },
      { stringValue: 'Timeout' },
      { stringValue: 'Success' },
      { intValue: 7 },
      { intValue: 7 },
      { stringValue: '7' },
    ]);
  });

  it('writes times as the SDK does, nanoseconds padded and unnormalised ones too', () => {
    expect(unixNanos([1795885710, 25668323])).toBe('"1795885710025668323"');
    expect(unixNanos([1795885710, 0])).toBe('"1795885710000000000"');
    expect(unixNanos([1, 1_500_000_000])).toBe('"2500000000"');
    expect(unixNanos([0, 0])).toBe('"0"');
  });
});
